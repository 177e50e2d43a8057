"""What the two client faces share: the options, the properties, the event buffer,
and every typed request method.

:class:`BaseClient` holds all of it once; :class:`zmqchat.Client` (a thread) and
:class:`zmqchat.aio.AsyncClient` (an asyncio task) only add how they wait: on their
sockets, on a reply (``future.result()`` or ``await``), and on the next event. The
request methods come from :mod:`zmqchat.client.core.requests`, one function per
request, through :class:`~zmqchat.client.io.methods.RequestMethod`.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import zmq

from zmqchat.client.core import requests, transfers
from zmqchat.client.core.connection import ClientCore
from zmqchat.client.core.events import ConnectionState, Event, EventBuffer
from zmqchat.client.core.requests import Call
from zmqchat.client.core.transfer import Transfer
from zmqchat.client.io.driver import Poller, SocketDriver
from zmqchat.client.io.methods import RequestMethod, StartMethod, TransferMethod
from zmqchat.client.io.trust import CurveKeys, Trust, resolve_trust
from zmqchat.common.endpoints import DEFAULT_ENDPOINT, check_endpoints
from zmqchat.common.protocol import DEFAULT_ROOMS
from zmqchat.errors import BrokerError, ConnectionClosed, Timeout

log = logging.getLogger("zmqchat.client")

_Face = TypeVar("_Face")  # Blocking or Awaiting (client.io.methods)


class _Flag(typing.Protocol):
    """A ``threading.Event`` or an ``asyncio.Event``."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class BaseClient(Generic[_Face]):
    """A connection to a zmqchat broker as one user: what both faces share.

    Every request method raises :class:`~zmqchat.errors.BrokerError` (with
    ``.code``) when the broker refuses, :class:`~zmqchat.errors.Timeout`, or
    :class:`~zmqchat.errors.ConnectionClosed`. Room events, private messages, broker
    notices and connection changes arrive through ``events()`` / ``next_event()``,
    or the ``on_event`` callback.

    The client heartbeats, reconnects by itself when the broker restarts (resuming
    its session), and fills gaps in each room from history, so every room event is
    delivered once and in order.
    """

    def __init__(
        self,
        user: str,
        endpoint: str | Sequence[str] = DEFAULT_ENDPOINT,
        *,
        endpoints: Sequence[str] | None = None,
        shuffle_seed: int | None = None,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        password: str | None = None,
        client_name: str | None = None,
        request_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_events: int = 10_000,
        on_event: Callable[[Event], object] | None = None,
        context: zmq.Context[Any] | None = None,
        server_key: str | bytes | None = None,
        client_key: str | os.PathLike[str] | None = None,
        known_brokers: str | os.PathLike[str] | None = None,
    ) -> None:
        """Nothing is sent before ``connect()``.

        ``endpoint`` is the broker's ROUTER endpoint, ``tcp://host:port``; for
        several broker nodes, a list of them (or a comma-separated string), or the
        same list as ``endpoints``. The client tries them in an order shuffled once
        (``shuffle_seed`` makes it repeatable), and moves to the next node when the
        one it is on stops answering, resuming its session there.

        ``rooms`` are joined on registering; ``password`` is for brokers with
        accounts; ``client_name`` goes into the broker's log. Requests wait
        ``request_timeout`` seconds for their reply unless given a ``timeout``,
        ``connect()`` waits ``connect_timeout``. At most ``max_events`` events wait
        to be taken (0: no limit); past that the oldest are dropped and counted in
        :attr:`dropped_events`. With ``on_event``, every event is handed to that
        callable instead, in order (``AsyncClient`` also awaits what it returns).

        CURVE: ``server_key`` is the broker's public key (Z85 text or a file holding
        it); ``client_key`` a ``.key_secret`` file of this client's own pair, for a
        broker that only lets known keys in (else a fresh pair is made). With
        ``known_brokers`` (a file, e.g. :func:`default_known_brokers`), the first key
        that reaches a broker is remembered for it and used when no ``server_key``
        is given, and a different key raises :class:`ServerKeyChanged`.
        """
        if endpoints is not None:
            if endpoint != DEFAULT_ENDPOINT:
                raise TypeError("give endpoint or endpoints, not both")
            endpoint = endpoints
        listed = check_endpoints(endpoint)
        self._trusts: dict[str, Trust] = {
            each: resolve_trust(each, server_key, client_key, known_brokers) for each in listed
        }
        # For the nodes a welcome names later: the same keys (every node of an
        # engine shares one pair), or trust on first use.
        self._trust_settings = (server_key, client_key, known_brokers)
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self._core = ClientCore(
            user,
            rooms=rooms,
            password=password,
            client_name=client_name,
            request_timeout=request_timeout,
            endpoints=listed,
            shuffle_seed=shuffle_seed,
        )
        self._events = EventBuffer(max_events)
        self._on_event = on_event
        poller = self._setup()
        context = context or zmq.Context.instance()
        self._driver = SocketDriver(self._core, context, poller, self._deliver, self._keys)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each face a function for every request method it does not define."""
        super().__init_subclass__(**kwargs)
        for name, member in vars(BaseClient).items():
            declared = inspect.getattr_static(cls, name)
            if (
                isinstance(member, RequestMethod | StartMethod | TransferMethod)
                and declared is member
            ):
                setattr(cls, name, member.function(cls, name))

    # ------------------------------------------------------------ what a face adds

    _settled: _Flag  # the first register was answered (or not)
    _done: _Flag  # the I/O loop has finished

    def _setup(self) -> Poller:
        """Prepare the face's waiting (``_settled`` and ``_done`` among it); return
        the poller its sockets are watched by."""
        raise NotImplementedError

    def _deliver(self, item: Event) -> None:
        """Hand an event from the I/O loop to the buffer, and wake its readers."""
        raise NotImplementedError

    def _end_events(self) -> None:
        """Mark the end of the event buffer, and wake its readers."""
        raise NotImplementedError

    def _complete(self, call: Call[Any, Any]) -> Any:
        """Send ``call`` and wait for its result (a coroutine on ``AsyncClient``)."""
        raise NotImplementedError

    def _start(self, call: Call[Any, Any]) -> Any:
        """Send ``call``; return a future of its result at once."""
        raise NotImplementedError

    def _pump(self, transfer: Transfer[Any]) -> Any:
        """Run a prepared file transfer on the I/O side until it ends, closing it;
        return its result (a coroutine on ``AsyncClient``)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- properties

    @property
    def user(self) -> str:
        """The user name, as the broker registered it."""
        return self._core.user

    @property
    def endpoint(self) -> str:
        """The ROUTER endpoint of the broker node this client is on (or trying)."""
        return self._core.endpoint

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint this client may use, in the order it tries them."""
        return self._core.endpoints

    @property
    def encrypted(self) -> bool:
        """Whether this client talks CURVE to its broker."""
        return self._trust.keys is not None

    @property
    def _trust(self) -> Trust:
        """How the node this client is on is trusted."""
        self._keys(self._core.endpoint)  # a node a welcome named: resolved once
        return self._trusts[self._core.endpoint]

    def _keys(self, endpoint: str) -> CurveKeys | None:
        trust = self._trusts.get(endpoint)
        if trust is None:  # a node a welcome named
            trust = self._trusts[endpoint] = resolve_trust(endpoint, *self._trust_settings)
        return trust.keys

    @property
    def session(self) -> str | None:
        """The session token (pass it as ``resume`` to take the session over)."""
        return self._core.session

    @property
    def state(self) -> ConnectionState:
        """``connecting``, ``connected``, ``reconnecting`` or ``closed``."""
        return self._core.state

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms this client is in."""
        return self._driver.rooms

    @property
    def dropped_events(self) -> int:
        """How many events were dropped, oldest first, because ``max_events`` were
        already waiting to be taken."""
        return self._events.dropped

    # ------------------------------------------------------------------- requests

    join = RequestMethod(requests.join)
    leave = RequestMethod(requests.leave)
    send = RequestMethod(requests.send)
    send_async = StartMethod(
        requests.send,
        """Like :meth:`send`, but returns at once with a future of the ack, so many
        messages can be in flight.""",
    )
    pm = RequestMethod(requests.pm)
    invite = RequestMethod(requests.invite)
    edit = RequestMethod(requests.edit)
    delete = RequestMethod(requests.delete)
    topic = RequestMethod(requests.topic)
    op = RequestMethod(requests.op)
    deop = RequestMethod(requests.deop)
    kick = RequestMethod(requests.kick)
    ban = RequestMethod(requests.ban)
    unban = RequestMethod(requests.unban)
    lock = RequestMethod(requests.lock)
    unlock = RequestMethod(requests.unlock)
    who = RequestMethod(requests.who)
    list_rooms = RequestMethod(requests.list_rooms)
    history = RequestMethod(requests.history)
    search = RequestMethod(requests.search)
    ping = RequestMethod(requests.ping)
    send_file = TransferMethod(transfers.send_file)
    get_file = TransferMethod(transfers.get_file)

    # ---------------------------------------------------------------- the I/O loop

    def _turn(self, ready: dict[Any, int], now: float) -> ConnectionState:
        """One turn of the I/O loop after a wait on ``ready`` sockets: read what
        arrived, run what is due, write what the core asks for. Returns the state."""
        self._driver.on_ready(ready, now)
        self._run_queued(now)
        self._core.tick(now)
        self._driver.apply()
        if self._core.state != "connecting":
            if self._core.state == "connected":
                self._trust.connected()
            self._settled.set()
        return self._core.state

    def _run_queued(self, now: float) -> None:
        """Run what other threads queued for the I/O loop (``Client`` only)."""

    def _fail(self, exc: Exception) -> None:
        """The I/O loop broke on ``exc``: end the client, failing what is pending."""
        log.exception("zmqchat %s I/O loop failed", type(self).__name__)
        self._driver.fail(exc)

    def _wind_up(self) -> None:
        """The I/O loop is over: fail what is still pending, close the sockets, and
        end the events once the last ones are handed over."""
        self._driver.end("the client stopped")
        self._driver.close()
        self._done.set()
        self._run_queued(time.monotonic())  # queued between the last turn and now
        self._settled.set()
        self._end_events()

    def _reply_limit(self, timeout: float | None) -> float:
        """How long a caller waits for a reply: a second past the core's own deadline,
        which normally answers first (with :class:`Timeout`)."""
        return (self.request_timeout if timeout is None else timeout) + 1.0

    # --------------------------------------------------------------------- events

    def _check_reader(self) -> None:
        if self._on_event is not None:
            raise RuntimeError("events go to the on_event callback of this client")

    def _take_event(self) -> Event:
        """The oldest buffered event, once the buffer is ready; at its end, raises
        :class:`ConnectionClosed`."""
        event = self._events.take()
        if event is None:
            raise ConnectionClosed(self._core.close_reason or "closed")
        return event

    def _hand_over(self, event: Event) -> object:
        """Call ``on_event`` with ``event``; what it returns (an awaitable, for an
        async callback), or None if it failed (logged: one bad event must not stop
        the others)."""
        assert self._on_event is not None
        try:
            return self._on_event(event)
        except Exception:
            log.exception("on_event callback failed on %r", event)
            return None

    # ------------------------------------------------------------------ lifecycle

    def _refusal(self, wait: float) -> Exception:
        """Why ``connect()`` failed: the broker's refusal, the end, or no answer."""
        if self._core.state != "closed":
            hint = None
            if self._trust.keys is not None:
                # libzmq drops a handshake with the wrong key without a word.
                hint = "with CURVE, a wrong server key is the likely cause"
            where = " or ".join(self.endpoints)
            return Timeout(f"no answer from a zmqchat broker at {where} within {wait:g}s", hint)
        error: BrokerError | None = self._core.close_error
        return error if error is not None else ConnectionClosed(self._core.close_reason or "closed")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.user!r} {self.state} {self.endpoint}>"
