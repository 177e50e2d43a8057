"""``zmqchat.Client``: the synchronous client for programs, bots and tests.

An I/O thread owns the sockets (a DEALER for requests, a SUB for room events, and a
monitor of the DEALER's link) and runs :class:`~zmqchat.client.core.connection.ClientCore`.
Calls from any thread become commands on a queue, woken by a byte on a socketpair;
replies come back as futures, events through a bounded queue.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Final, TypeVar

import zmq

from zmqchat.client.core.connection import ClientCore, Completion
from zmqchat.client.core.events import ConnectionState, Event, StatusEvent
from zmqchat.client.io.driver import SocketDriver
from zmqchat.client.io.transport import DEFAULT_ENDPOINT, check_endpoint
from zmqchat.common.messages import (
    Chat,
    ChatAck,
    History,
    HistoryPage,
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    Ping,
    Pm,
    PmAck,
    Pong,
    Record,
    RoomInfo,
    RoomList,
    Users,
    Welcome,
    Who,
)
from zmqchat.common.protocol import DEFAULT_ROOMS, HISTORY_DEFAULT_LIMIT, ErrorCode
from zmqchat.errors import ConnectionClosed, ProtocolError, Timeout

log = logging.getLogger("zmqchat.client")

_R = TypeVar("_R")

_END: Final = object()  # queued after the last event of a closed client


def _completion(future: concurrent.futures.Future[Any]) -> Completion:
    def done(result: Any) -> None:
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    return done


class Client:
    """A connection to a zmqchat broker as one user.

    ::

        with Client("alice", "tcp://127.0.0.1:5555") as chat:
            chat.send("general", "hello")
            for event in chat.events(timeout=5):
                print(event)

    Every request method blocks until the broker answers and raises
    :class:`~zmqchat.errors.BrokerError` (with ``.code``) when it refuses, or
    :class:`~zmqchat.errors.Timeout`. Room events, private messages, broker notices
    and connection changes arrive through :meth:`events` / :meth:`next_event`, or the
    ``on_event`` callback (called on a thread of its own, so it may make requests).

    The client heartbeats, reconnects by itself when the broker restarts (resuming
    its session), and fills gaps in each room from history, so every room event is
    delivered once and in order.
    """

    def __init__(
        self,
        user: str,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        password: str | None = None,
        client_name: str | None = None,
        request_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_events: int = 10_000,
        on_event: Callable[[Event], object] | None = None,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.endpoint = check_endpoint(endpoint)
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self._core = ClientCore(
            user,
            rooms=rooms,
            password=password,
            client_name=client_name,
            request_timeout=request_timeout,
        )
        self._events: queue.Queue[Any] = queue.Queue(maxsize=max_events)
        self._on_event = on_event
        self.dropped_events = 0
        self._commands: collections.deque[Callable[[float], object]] = collections.deque()
        self._poller = zmq.Poller()
        self._driver = SocketDriver(
            self._core, self.endpoint, context or zmq.Context.instance(), self._poller, self._put
        )
        self._settled = threading.Event()  # the first register was answered (or not)
        self._stopping = threading.Event()  # leave the loop now, without bye
        self._done = threading.Event()  # the I/O thread has finished
        self._late_lock = threading.Lock()  # for commands queued after it finished
        self._thread: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._ended = False

    # ------------------------------------------------------------------ lifecycle

    def connect(self, timeout: float | None = None) -> Welcome:
        """Register with the broker; returns its ``welcome``.

        Raises :class:`~zmqchat.errors.BrokerError` if the broker refuses the name,
        or :class:`~zmqchat.errors.Timeout` if it does not answer in time.
        """
        if self._thread is not None:
            raise RuntimeError("connect() was already called")
        self._thread = threading.Thread(target=self._run, name="zmqchat-io", daemon=True)
        self._thread.start()
        wait = self.connect_timeout if timeout is None else timeout
        if not self._settled.wait(wait):
            self._stop()
            # A failed connect() is the end of this client (`with Client()` never
            # reaches __exit__): release the wake-up socketpair now.
            self._release()
            raise Timeout(f"no answer from a zmqchat broker at {self.endpoint} within {wait:g}s")
        if self._core.state == "closed":
            self._stop()
            self._release()
            if self._core.close_error is not None:
                raise self._core.close_error
            raise ConnectionClosed(self._core.close_reason or "closed")
        if self._on_event is not None:
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="zmqchat-events", daemon=True
            )
            self._dispatcher.start()
        assert self._core.welcome is not None
        return self._core.welcome

    def close(self, timeout: float = 2.0) -> None:
        """Say ``bye`` (freeing the name at once) and stop. Safe to call twice."""
        if self._thread is None or self._done.is_set():
            self._release()
            return
        self._call(self._core.close)
        if not self._done.wait(timeout + 1.0):
            self._stop()
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout)
        self._release()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- properties

    @property
    def user(self) -> str:
        """The user name, as the broker registered it."""
        return self._core.user

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

    # ------------------------------------------------------------------- requests

    def request(
        self, request: Record, timeout: float | None = None
    ) -> concurrent.futures.Future[Any]:
        """Send any request record; the future resolves to the reply record (or the
        error). The building block of the typed methods below, and of pipelined
        sending: submit many, then wait for the futures."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        done = _completion(future)
        if self._thread is None or self._done.is_set():
            done(ConnectionClosed(self._core.close_reason or "not connected"))
            return future
        self._call(lambda now: self._core.submit(request, done, now, timeout))
        return future

    def _wait(
        self, future: concurrent.futures.Future[Any], kind: type[_R], timeout: float | None
    ) -> _R:
        limit = (self.request_timeout if timeout is None else timeout) + 1.0
        try:
            reply = future.result(limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise Timeout("no reply from the broker within the time allowed") from None
        if not isinstance(reply, kind):
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"expected {kind.__name__}, got {type(reply).__name__}"
            )
        return reply

    def join(self, room: str, *, timeout: float | None = None) -> Joined:
        """Join ``room`` (created on first join); returns its head seq and members."""
        return self._wait(self.request(Join(room=room), timeout), Joined, timeout)

    def leave(self, room: str, *, timeout: float | None = None) -> Left:
        """Leave ``room``."""
        return self._wait(self.request(Leave(room=room), timeout), Left, timeout)

    def send(
        self,
        room: str,
        text: str,
        *,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ChatAck:
        """Say ``text`` in ``room`` (with an optional machine-readable ``data`` map);
        returns once the broker has stored it, with its ``seq``."""
        return self._wait(self.send_async(room, text, data=data, timeout=timeout), ChatAck, timeout)

    def send_async(
        self,
        room: str,
        text: str,
        *,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> concurrent.futures.Future[ChatAck]:
        """Like :meth:`send` but returns at once with a future of the ack, so many
        messages can be in flight."""
        return self.request(Chat(room=room, text=text, data=data), timeout)

    def pm(
        self,
        user: str,
        text: str,
        *,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> PmAck:
        """Send a private message to ``user``."""
        return self._wait(self.request(Pm(to=user, text=text, data=data), timeout), PmAck, timeout)

    def who(self, room: str | None = None, *, timeout: float | None = None) -> list[str]:
        """Names of the users in ``room``, or of everyone online."""
        reply = self._wait(self.request(Who(room=room), timeout), Users, timeout)
        return list(reply.users)

    def list_rooms(self, *, timeout: float | None = None) -> list[RoomInfo]:
        """The rooms that have members: name, member count, head seq."""
        return list(self._wait(self.request(ListRooms(), timeout), RoomList, timeout).rooms)

    def history(
        self,
        room: str | None = None,
        *,
        with_user: str | None = None,
        after: int | None = None,
        before: int | None = None,
        limit: int = HISTORY_DEFAULT_LIMIT,
        timeout: float | None = None,
    ) -> HistoryPage:
        """A page of a room's events, or of private messages ``with_user``.

        ``after``: the first ``limit`` events after that seq; ``before``: the last
        ``limit`` before it; neither: the latest. ``more`` says whether further
        events exist in that direction.
        """
        request = History(room=room, with_user=with_user, after=after, before=before, limit=limit)
        return self._wait(self.request(request, timeout), HistoryPage, timeout)

    def ping(self, *, timeout: float | None = None) -> Pong:
        """Round trip to the broker; returns the head seq of each room we are in."""
        return self._wait(self.request(Ping(), timeout), Pong, timeout)

    # --------------------------------------------------------------------- events

    def next_event(self, timeout: float | None = None) -> Event:
        """The next event; raises :class:`Timeout` if none arrives in ``timeout`` s,
        :class:`ConnectionClosed` once the client is closed and drained."""
        if self._on_event is not None:
            raise RuntimeError("events go to the on_event callback of this client")
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise Timeout(f"no event within {timeout}s") from None
        if item is _END:
            self._events.put(_END)  # for any other reader
            raise ConnectionClosed(self._core.close_reason or "closed")
        event: Event = item
        return event

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events as they arrive. Ends when the client is closed, or
        after ``timeout`` seconds without an event."""
        while True:
            try:
                yield self.next_event(timeout)
            except (Timeout, ConnectionClosed):
                return

    def _dispatch(self) -> None:
        callback = self._on_event
        assert callback is not None
        while True:
            item = self._events.get()
            if item is _END:
                return
            try:
                callback(item)
            except Exception:
                log.exception("on_event callback failed on %r", item)

    # ------------------------------------------------------------- the I/O thread

    def _call(self, command: Callable[[float], object]) -> None:
        self._commands.append(command)
        self._driver.wake()
        if self._done.is_set():
            # The I/O thread ended while we queued: nobody else will run it. On a
            # closed core, a request fails at once with ConnectionClosed.
            with self._late_lock:
                while self._commands:
                    self._commands.popleft()(time.monotonic())

    def _stop(self) -> None:
        self._stopping.set()  # the loop checks it every turn
        self._call(lambda now: None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        core, driver = self._core, self._driver
        try:
            driver.start(time.monotonic())
            while not self._stopping.is_set():
                ready = dict(self._poller.poll(driver.timeout_ms(time.monotonic())))
                now = time.monotonic()
                driver.on_ready(ready, now)
                while self._commands:
                    self._commands.popleft()(now)
                core.tick(now)
                driver.apply()
                if core.state != "connecting":
                    self._settled.set()
                if core.state == "closed" and not self._commands:
                    break
        except Exception as exc:
            log.exception("zmqchat client I/O thread failed")
            driver.fail(exc)
        finally:
            driver.end("the client stopped")
            driver.close()
            self._done.set()
            with self._late_lock:  # queued between the last turn and now
                while self._commands:
                    self._commands.popleft()(time.monotonic())
            self._settled.set()
            self._put(_END)

    def _put(self, item: Any) -> None:
        while True:
            try:
                self._events.put_nowait(item)
                return
            except queue.Full:
                # Keep the newest: drop the oldest undelivered event.
                with contextlib.suppress(queue.Empty):
                    self._events.get_nowait()
                    self.dropped_events += 1
                    if self.dropped_events == 1 or self.dropped_events % 1000 == 0:
                        log.warning("event queue full: %d event(s) dropped", self.dropped_events)

    def _release(self) -> None:
        """Close the sockets if the I/O thread never ran or has ended."""
        if self._thread is None or not self._thread.is_alive():
            self._driver.close()

    def __repr__(self) -> str:
        return f"<Client {self.user!r} {self.state} {self.endpoint}>"


__all__ = ["Client", "StatusEvent"]
