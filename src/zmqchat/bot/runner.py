"""``Bot``: a :class:`~zmqchat.bot.router.Router` run on an ``AsyncClient``. It
connects, feeds each event to the router and the calls it decides to a
:class:`~zmqchat.bot.supervisor.Supervisor`, runs the periodic jobs, and stops
cleanly; ``run()`` is the whole process: logging, signals, exit status."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

from zmqchat.aio import AsyncClient
from zmqchat.bot.context import Context, Handler, name_of, require_async
from zmqchat.bot.moderating import Moderating
from zmqchat.bot.router import RoomArg, Router
from zmqchat.bot.supervisor import ErrorHook, Supervisor
from zmqchat.client.chat.failures import classify
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.config import ClientConfig, load_config
from zmqchat.common.endpoints import check_endpoints
from zmqchat.common.messages import ChatAck, Joined, Left, PmAck, SystemEvent, Welcome
from zmqchat.common.protocol import DEFAULT_ROOMS
from zmqchat.errors import ConnectionClosed, ZmqchatError

__all__ = ["STOP_GRACE", "Bot", "Job"]

log = logging.getLogger("zmqchat.bot")

# How long stop() lets running handlers finish before it cancels them.
STOP_GRACE: Final = 5.0

Job = Callable[["Bot"], Awaitable[Any]]
_H = TypeVar("_H", bound=Handler)
_J = TypeVar("_J", bound=Job)
_E = TypeVar("_E", bound=ErrorHook)


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    """A periodic job as registered: ``every(interval, delay=delay)``."""

    function: Job
    interval: float
    delay: float


class Bot(Moderating):
    """A chat bot: handlers registered with decorators, run on an ``AsyncClient``.

    ``endpoint`` defaults to what the ``zmqchat`` commands use: ``ZMQCHAT_ENDPOINTS``,
    or ``ZMQCHAT_HOST`` and ``ZMQCHAT_PORT``, else ``client.toml``, else
    ``tcp://127.0.0.1:5555``. A list of endpoints (several broker nodes) makes the bot
    move to another node when the one it is on stops answering. ``rooms``
    are joined at start, together with every room a handler names.
    ``prefix`` starts commands (``!ping``). ``concurrency`` caps the handler calls
    running at once (1: one at a time, in order). ``help_command`` answers ``!help``
    with the commands and the first line of their docstrings (a command of your own
    named ``help`` replaces it). The other options go to
    :class:`~zmqchat.aio.AsyncClient`.

    Which handlers an event calls is decided by :attr:`router`. The moderation
    methods (:meth:`topic`, :meth:`kick`, :meth:`ban`, …) are :class:`Moderating`'s.
    """

    def __init__(
        self,
        user: str,
        endpoint: str | Sequence[str] | None = None,
        *,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        prefix: str = "!",
        concurrency: int = 16,
        help_command: bool = True,
        password: str | None = None,
        client_name: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 30.0,
        server_key: str | None = None,
        client_key: str | None = None,
    ) -> None:
        self.router = Router(prefix=prefix, help_command=help_command)
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.name = user
        # Like the commands, so one environment variable points every bot elsewhere.
        given = endpoint or load_config(ClientConfig, default_file="client.toml").broker_endpoints
        self.endpoints = check_endpoints(given)
        self.concurrency = concurrency
        self._client_options: dict[str, Any] = {
            "password": password,
            "client_name": client_name or "zmqchat.bot",
            "connect_timeout": connect_timeout,
            "request_timeout": request_timeout,
            "server_key": server_key,
            "client_key": client_key,
        }
        self._rooms = tuple(dict.fromkeys(r.lower() for r in rooms))
        self._jobs: list[_Job] = []
        self._error_hook: ErrorHook | None = None

        # Per run (start() sets them up; asyncio objects belong to one loop).
        self._client: AsyncClient | None = None
        self._supervisor: Supervisor | None = None
        self._heads: dict[str, int] = {}  # room -> its head seq when we joined
        self._finished = asyncio.Event()  # serve() returns once set
        self._stopping: asyncio.Task[None] | None = None
        self._stop_callers: set[asyncio.Task[Any]] = set()
        self._lost: ConnectionClosed | None = None  # the connection ended by itself
        self._connects = 0

    # ------------------------------------------------------------- registration

    @property
    def prefix(self) -> str:
        """What starts a command."""
        return self.router.prefix

    @property
    def help_command(self) -> bool:
        """Whether ``!help`` is answered by the bot itself."""
        return self.router.help_command

    def command(
        self, name: str, *, room: RoomArg = None, pm: bool = True, help: str | None = None
    ) -> Callable[[_H], _H]:
        """Handle ``!name [args]``; see ``Router.command``."""
        return self.router.command(name, room=room, pm=pm, help=help)

    def on_message(
        self, *, room: RoomArg = None, pattern: str | re.Pattern[str] | None = None
    ) -> Callable[[_H], _H]:
        """Handle room messages; see ``Router.on_message``."""
        return self.router.on_message(room=room, pattern=pattern)

    def on_pm(self, *, pattern: str | re.Pattern[str] | None = None) -> Callable[[_H], _H]:
        """Handle private messages; see ``Router.on_pm``."""
        return self.router.on_pm(pattern=pattern)

    def on_presence(self, *, room: RoomArg = None, event: str | None = None) -> Callable[[_H], _H]:
        """Handle joins and leaves; see ``Router.on_presence``."""
        return self.router.on_presence(room=room, event=event)

    def every(self, seconds: float, *, delay: float | None = None) -> Callable[[_J], _J]:
        """Run ``async def job(bot)`` every ``seconds`` while the bot runs, the first
        time ``delay`` seconds after start (default: ``seconds``). A run still going
        when the next is due makes that one skip: runs never overlap."""
        if seconds <= 0:
            raise ValueError(f"the interval must be positive, not {seconds}")

        def register(job: _J) -> _J:
            require_async(job)
            self._jobs.append(_Job(job, seconds, seconds if delay is None else delay))
            return job

        return register

    def on_error(self, hook: _E) -> _E:
        """Call ``async def hook(ctx, exc)`` after a handler raised (the traceback is
        already logged), e.g. to tell the user something went wrong."""
        require_async(hook)
        self._error_hook = hook
        return hook

    # ---------------------------------------------------------------- talking

    @property
    def client(self) -> AsyncClient:
        """The underlying client (for ``who``, ``history``, ...); set by :meth:`start`."""
        if self._client is None:
            raise ConnectionClosed("the bot is not started")
        return self._client

    @property
    def user(self) -> str:
        """The bot's user name, as the broker registered it once started."""
        return self._client.user if self._client is not None else self.name

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms the bot is in (before start: the rooms it will join)."""
        if self._client is not None:
            return self._client.rooms
        return tuple(dict.fromkeys([*self._rooms, *self.router.rooms]))

    async def send(self, room: str, text: str, *, data: dict[str, Any] | None = None) -> ChatAck:
        """Say ``text`` (with an optional ``data`` map) in ``room``; returns once stored."""
        return await self.client.send(room, text, data=data)

    async def pm(self, user: str, text: str, *, data: dict[str, Any] | None = None) -> PmAck:
        """Send ``user`` a private message."""
        return await self.client.pm(user, text, data=data)

    async def edit(self, room: str, seq: int, text: str) -> ChatAck:
        """Change the bot's message ``seq`` of ``room`` (a :meth:`send`'s ack
        ``seq``) to ``text``, within the broker's ``edit_window``."""
        return await self.client.edit(room, seq, text)

    async def delete(self, room: str, seq: int) -> ChatAck:
        """Delete the bot's message ``seq`` of ``room``, within ``edit_window``."""
        return await self.client.delete(room, seq)

    async def join(self, room: str, private: bool = False) -> Joined:
        """Join ``room`` now; only what is said there from now on is handled.
        ``private``: create it members-only, the bot its operator (see
        :meth:`AsyncClient.join`)."""
        client = self.client
        known = room.lower() in client.rooms
        joined = await client.join(room, private=private)
        if not known:
            self._heads[joined.room] = joined.seq
        return joined

    async def leave(self, room: str) -> Left:
        """Leave ``room``."""
        left = await self.client.leave(room)
        self._heads.pop(left.room, None)
        return left

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> Welcome:
        """Connect, join the rooms, and start handling events and running jobs.

        Raises :class:`~zmqchat.errors.BrokerError` (e.g. ``name_taken``) or
        :class:`~zmqchat.errors.Timeout` (no broker) like ``AsyncClient.connect``.
        """
        if self._client is not None:
            raise RuntimeError("the bot is already started")
        self._finished = asyncio.Event()
        self._lost = None
        self._connects = 0
        client = AsyncClient(self.name, self.endpoints, rooms=self.rooms, **self._client_options)
        welcome = await client.connect()
        self._client = client
        self._heads = dict(welcome.rooms)
        supervisor = Supervisor(self.concurrency, self._on_handler_error)
        supervisor.background(self._dispatch(client, supervisor), f"{self.name}-dispatch")
        for job in self._jobs:
            name = name_of(job.function)
            supervisor.every(
                functools.partial(job.function, self),
                job.interval,
                job.delay,
                name=name,
                loop_name=f"{self.name}-job-{name}",
            )
        self._supervisor = supervisor
        log.info(
            "%s connected to %s, in %s",
            welcome.user,
            client.endpoint,
            ", ".join(f"#{r}" for r in welcome.rooms) or "no room",
        )
        return welcome

    async def stop(self, timeout: float = STOP_GRACE) -> None:
        """Stop handling events and jobs, give the handlers still running ``timeout``
        seconds to finish (then cancel them), and say ``bye``: the name is free at
        once. Safe to call twice, and from a handler."""
        if self._client is None:
            return
        me = asyncio.current_task()
        if me is not None:
            # A handler that stops the bot must not be waited for by the stop.
            self._stop_callers.add(me)
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._shutdown(timeout))
        try:
            await asyncio.shield(self._stopping)
        finally:
            if me is not None:
                self._stop_callers.discard(me)

    async def _shutdown(self, timeout: float) -> None:
        client = self.client
        self._finished.set()
        if self._supervisor is not None:
            await self._supervisor.stop(timeout, spare=self._stop_callers)
        await client.close()
        log.info("%s stopped", client.user)
        self._client = None
        self._supervisor = None
        self._stopping = None

    async def serve(self) -> None:
        """Start (unless started), handle events until :meth:`stop` is called or the
        connection ends for good, then stop. Raises
        :class:`~zmqchat.errors.ConnectionClosed` in the second case."""
        if self.router.empty and not self._jobs:
            log.warning("%s has no handlers and no jobs: it will do nothing", self.name)
        if self._client is None:
            await self.start()
        try:
            await self._finished.wait()
        finally:
            await self.stop()
        if self._lost is not None:
            raise self._lost

    def run(self, *, log_level: int | str | None = logging.INFO) -> None:
        """Run the bot until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly (a second
        signal ends it at once). Blocks; for programs whose ``main`` is the bot.

        Unless logging is already set up, logs to stderr at ``log_level`` (None: leave
        logging alone). Exits with status 1 if the broker refuses the bot or ends its
        session, 3 if no broker answers.
        """
        if log_level is not None and not logging.getLogger().handlers:
            logging.basicConfig(
                level=log_level,
                format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                datefmt="%H:%M:%S",
            )
        try:
            asyncio.run(self._serve_until_signalled())
        except ZmqchatError as exc:
            # The reason in one line, not a traceback: nothing crashed. A timeout
            # can only come from connecting: serving outlives slow requests.
            wait = self._client_options["connect_timeout"]
            where = " or ".join(self.endpoints)
            failure = classify(exc, endpoint=where, connect_timeout=wait)
            log.error("%s: %s", self.name, failure.report)
            raise SystemExit(failure.exit_status) from None

    async def _serve_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)

        def on_signal(signum: int) -> None:
            log.info("%s: stopping (%s)", self.name, signal.Signals(signum).name)
            for other in signals:
                loop.remove_signal_handler(other)  # a second signal acts at once
            self._finished.set()

        for signum in signals:
            # Not on Windows' event loops: Ctrl-C then interrupts without a bye.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_signal, signum)
        await self.serve()

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --------------------------------------------------------------- dispatching

    async def _dispatch(self, client: AsyncClient, supervisor: Supervisor) -> None:
        async for event in client:
            if isinstance(event, StatusEvent):
                self._on_status(event)
            elif isinstance(event, SystemEvent):
                log.info("broker notice: %s", event.text)
            else:
                for handler, ctx in self.router.route(
                    event, self, me=client.user, heads=self._heads
                ):
                    await supervisor.call(handler, ctx)
        if self._lost is None:
            self._lost = ConnectionClosed("the connection ended")
        self._finished.set()

    async def _on_handler_error(self, ctx: Context, exc: Exception) -> None:
        # Looked up at each failure: a hook registered while running counts too.
        if self._error_hook is not None:
            await self._error_hook(ctx, exc)

    def _on_status(self, event: StatusEvent) -> None:
        if event.state == "reconnecting":
            log.warning("%s: %s; reconnecting", self.name, event.reason or "connection lost")
        elif event.state == "connected":
            self._connects += 1
            if self._connects > 1:  # the first is start()'s own connect
                log.info(
                    "%s: reconnected%s", self.name, " (session resumed)" if event.resumed else ""
                )
        elif event.state == "closed" and self._stopping is None:
            self._lost = ConnectionClosed(event.reason or "closed", event.error)
            log.error("%s: the connection ended: %s", self.name, self._lost)

    @property
    def endpoint(self) -> str:
        """The endpoint of the broker node the bot is on (stopped: the first to try)."""
        return self._client.endpoint if self._client is not None else self.endpoints[0]

    def __repr__(self) -> str:
        state = "running" if self._client is not None else "stopped"
        return f"<Bot {self.user!r} {state} {self.endpoint}>"
