"""``zmqchat.bot``: a small toolkit for chat bots, on :class:`zmqchat.aio.AsyncClient`.

::

    from zmqchat.bot import Bot, Context

    bot = Bot("pingbot", rooms=["general"])

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        "answer pong"
        await ctx.reply("pong")

    bot.run()

The rules (``docs/bots.md`` explains them with examples):

* Handlers are ``async def handler(ctx)``. Each call runs as a task of its own, at
  most ``concurrency`` at once, started in the order the events arrived; a slow
  handler does not hold up the others. ``concurrency=1`` handles one event at a time,
  strictly in order. Periodic jobs run beside handlers, never overlapping themselves.
* An exception in a handler or job is logged with its traceback on the
  ``zmqchat.bot`` logger, then handed to the ``on_error`` hook if there is one, and
  the bot carries on.
* The bot never handles its own messages or its own joins and leaves.
* Only what happens after the bot joined a room is handled: an event whose seq is at
  or below the room's head when the bot joined (from ``welcome`` or ``joined``) is
  history and is skipped. The client delivers every later event once, in order, also
  across reconnections, so a command said while the broker was restarting is answered
  once when the bot is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import re
import signal
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Final, TypeVar

from zmqchat.aio import AsyncClient
from zmqchat.client.core.events import Event, StatusEvent
from zmqchat.client.io.transport import check_endpoint
from zmqchat.common.config import ClientConfig, load_config
from zmqchat.common.messages import (
    ChatAck,
    ChatEvent,
    Joined,
    Left,
    PmAck,
    PmEvent,
    PresenceEvent,
    SystemEvent,
    Welcome,
)
from zmqchat.common.protocol import DEFAULT_ROOMS
from zmqchat.errors import BrokerError, ConnectionClosed, Timeout

__all__ = ["Bot", "Context"]

log = logging.getLogger("zmqchat.bot")

Handler = Callable[["Context"], Awaitable[Any]]
Job = Callable[["Bot"], Awaitable[Any]]
ErrorHook = Callable[["Context", Exception], Awaitable[Any]]
_H = TypeVar("_H", bound=Handler)
_J = TypeVar("_J", bound=Job)
_E = TypeVar("_E", bound=ErrorHook)

RoomEventOrPm = ChatEvent | PmEvent | PresenceEvent
RoomArg = str | Iterable[str] | None

# A command after the prefix: a word right after it, then its arguments ("! ping"
# and "!" are not commands).
_COMMAND: Final = re.compile(r"(\S+)(?:\s+(.*))?", re.DOTALL)
# How long stop() lets running handlers finish before it cancels them.
STOP_GRACE: Final = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What a handler is called with: the event, how it matched, and ways to answer.

    ``args`` and ``rest`` are set for commands (``!echo a  b`` gives ``("a", "b")``
    and ``"a  b"``); ``match`` for handlers registered with a ``pattern``.
    """

    bot: Bot
    event: RoomEventOrPm
    match: re.Match[str] | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    rest: str = ""

    @property
    def room(self) -> str | None:
        """The room of the event; None for a private message."""
        return None if isinstance(self.event, PmEvent) else self.event.room

    @property
    def sender(self) -> str:
        """Who said it (for presence: who joined or left)."""
        return self.event.user if isinstance(self.event, PresenceEvent) else self.event.sender

    @property
    def text(self) -> str:
        """The message text ("" for presence)."""
        return "" if isinstance(self.event, PresenceEvent) else self.event.text

    @property
    def data(self) -> dict[str, Any] | None:
        """The message's machine-readable ``data`` map, if it has one."""
        return None if isinstance(self.event, PresenceEvent) else self.event.data

    @property
    def private(self) -> bool:
        """True for a private message."""
        return isinstance(self.event, PmEvent)

    async def reply(self, text: str, *, data: dict[str, Any] | None = None) -> ChatAck | PmAck:
        """Answer where the event happened: in its room, or privately to the sender of
        a private message."""
        if isinstance(self.event, PmEvent):
            return await self.bot.pm(self.event.sender, text, data=data)
        return await self.bot.send(self.event.room, text, data=data)

    async def pm(self, text: str, *, data: dict[str, Any] | None = None) -> PmAck:
        """Answer the sender privately, wherever the event happened."""
        return await self.bot.pm(self.sender, text, data=data)


@dataclasses.dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    rooms: frozenset[str] | None  # None: every room
    pattern: re.Pattern[str] | None = None
    presence: str | None = None  # "join" / "leave" / None: both

    def wants_room(self, room: str) -> bool:
        return self.rooms is None or room in self.rooms


@dataclasses.dataclass(frozen=True, slots=True)
class _Command:
    name: str
    handler: Handler
    rooms: frozenset[str] | None
    pm: bool
    help: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    function: Job
    interval: float
    delay: float


class Bot:
    """A chat bot: handlers registered with decorators, run on an ``AsyncClient``.

    ``endpoint`` defaults to what the ``zmqchat`` commands use: ``ZMQCHAT_HOST`` and
    ``ZMQCHAT_PORT``, else ``client.toml``, else ``tcp://127.0.0.1:5555``. ``rooms``
    are joined at start, together with every room a handler names.
    ``prefix`` starts commands (``!ping``). ``concurrency`` caps the handler calls
    running at once (1: one at a time, in order). ``help_command`` answers ``!help``
    with the commands and the first line of their docstrings (a command of your own
    named ``help`` replaces it). The other options go to
    :class:`~zmqchat.aio.AsyncClient`.
    """

    def __init__(
        self,
        user: str,
        endpoint: str | None = None,
        *,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        prefix: str = "!",
        concurrency: int = 16,
        help_command: bool = True,
        password: str | None = None,
        client_name: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 30.0,
    ) -> None:
        if not prefix or prefix != prefix.strip():
            raise ValueError(f"prefix must be non-empty, without spaces: {prefix!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.name = user
        # Like the commands, so one environment variable points every bot elsewhere.
        config_endpoint = endpoint or load_config(ClientConfig, default_file="client.toml").endpoint
        self.endpoint = check_endpoint(config_endpoint)
        self.prefix = prefix
        self.concurrency = concurrency
        self.help_command = help_command
        self._client_options: dict[str, Any] = {
            "password": password,
            "client_name": client_name or "zmqchat.bot",
            "connect_timeout": connect_timeout,
            "request_timeout": request_timeout,
        }
        self._rooms: dict[str, None] = dict.fromkeys(r.lower() for r in rooms)
        self._commands: dict[str, _Command] = {}
        self._messages: list[_Route] = []
        self._pms: list[_Route] = []
        self._presence: list[_Route] = []
        self._jobs: list[_Job] = []
        self._error_hook: ErrorHook | None = None

        # Per run (start() sets them up; asyncio objects belong to one loop).
        self._client: AsyncClient | None = None
        self._heads: dict[str, int] = {}  # room -> its head seq when we joined
        self._slots = asyncio.Semaphore(concurrency)
        self._finished = asyncio.Event()  # serve() returns once set
        self._loops: list[asyncio.Task[None]] = []  # the dispatcher and job schedulers
        self._work: set[asyncio.Task[Any]] = set()  # handler and job calls in progress
        self._stopping: asyncio.Task[None] | None = None
        self._stop_callers: set[asyncio.Task[Any]] = set()
        self._lost: ConnectionClosed | None = None  # the connection ended by itself
        self._connects = 0

    # ------------------------------------------------------------- registration

    def command(
        self, name: str, *, room: RoomArg = None, pm: bool = True, help: str | None = None
    ) -> Callable[[_H], _H]:
        """Handle ``!name [args]`` in a room (every room the bot is in, or ``room``:
        a name or several) and, unless ``pm=False``, in private messages. Names are
        matched case-insensitively. ``help`` (default: the docstring's first line)
        is what ``!help`` shows."""
        if not name or name != "".join(name.split()):
            raise ValueError(f"a command name is one word: {name!r}")
        key = name.lower()
        if key in self._commands:
            raise ValueError(f"command {name!r} is already registered")
        rooms = self._room_set(room)

        def register(handler: _H) -> _H:
            _check_async(handler)
            doc = help if help is not None else (inspect.getdoc(handler) or "")
            summary = doc.strip().splitlines()[0] if doc.strip() else ""
            self._commands[key] = _Command(key, handler, rooms, pm, summary)
            return handler

        return register

    def on_message(
        self, *, room: RoomArg = None, pattern: str | re.Pattern[str] | None = None
    ) -> Callable[[_H], _H]:
        """Handle room messages (in ``room``, else in every room) whose text matches
        ``pattern`` (``re.search``; ``ctx.match`` holds the match), else all of them.
        Commands are messages too: both kinds of handler see ``!ping``."""
        return self._add(self._messages, self._room_set(room), _compile(pattern))

    def on_pm(self, *, pattern: str | re.Pattern[str] | None = None) -> Callable[[_H], _H]:
        """Handle private messages to the bot (those matching ``pattern``, if given);
        ``ctx.reply`` answers privately."""
        return self._add(self._pms, None, _compile(pattern))

    def on_presence(self, *, room: RoomArg = None, event: str | None = None) -> Callable[[_H], _H]:
        """Handle users joining and leaving (``event="join"`` or ``"leave"`` for one
        kind); ``ctx.sender`` is the user, ``ctx.reply`` says something in the room."""
        if event not in (None, "join", "leave"):
            raise ValueError(f'event must be "join", "leave" or None, not {event!r}')
        return self._add(self._presence, self._room_set(room), None, event)

    def every(self, seconds: float, *, delay: float | None = None) -> Callable[[_J], _J]:
        """Run ``async def job(bot)`` every ``seconds`` while the bot runs, the first
        time ``delay`` seconds after start (default: ``seconds``). A run still going
        when the next is due makes that one skip: runs never overlap."""
        if seconds <= 0:
            raise ValueError(f"the interval must be positive, not {seconds}")

        def register(job: _J) -> _J:
            _check_async(job)
            self._jobs.append(_Job(job, seconds, seconds if delay is None else delay))
            return job

        return register

    def on_error(self, hook: _E) -> _E:
        """Call ``async def hook(ctx, exc)`` after a handler raised (the traceback is
        already logged), e.g. to tell the user something went wrong."""
        _check_async(hook)
        self._error_hook = hook
        return hook

    def _room_set(self, room: RoomArg) -> frozenset[str] | None:
        if room is None:
            return None
        names = frozenset(r.lower() for r in ([room] if isinstance(room, str) else room))
        # A handler for a room is useless unless the bot is in it: join it at start.
        self._rooms.update(dict.fromkeys(sorted(names)))
        return names

    def _add(
        self,
        routes: list[_Route],
        rooms: frozenset[str] | None,
        pattern: re.Pattern[str] | None,
        presence: str | None = None,
    ) -> Callable[[_H], _H]:
        def register(handler: _H) -> _H:
            _check_async(handler)
            routes.append(_Route(handler, rooms, pattern, presence))
            return handler

        return register

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
        return self._client.rooms if self._client is not None else tuple(self._rooms)

    async def send(self, room: str, text: str, *, data: dict[str, Any] | None = None) -> ChatAck:
        """Say ``text`` (with an optional ``data`` map) in ``room``; returns once stored."""
        return await self.client.send(room, text, data=data)

    async def pm(self, user: str, text: str, *, data: dict[str, Any] | None = None) -> PmAck:
        """Send ``user`` a private message."""
        return await self.client.pm(user, text, data=data)

    async def join(self, room: str) -> Joined:
        """Join ``room`` now; only what is said there from now on is handled."""
        client = self.client
        known = room.lower() in client.rooms
        joined = await client.join(room)
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
        self._slots = asyncio.Semaphore(self.concurrency)
        self._lost = None
        self._connects = 0
        client = AsyncClient(self.name, self.endpoint, rooms=self._rooms, **self._client_options)
        welcome = await client.connect()
        self._client = client
        self._heads = dict(welcome.rooms)
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._dispatch(client), name=f"{self.name}-dispatch")]
        self._loops += [
            loop.create_task(self._schedule(job), name=f"{self.name}-job-{_name(job.function)}")
            for job in self._jobs
        ]
        log.info(
            "%s connected to %s, in %s",
            welcome.user,
            self.endpoint,
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
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        busy = self._work - self._stop_callers
        if busy:
            _, late = await asyncio.wait(busy, timeout=timeout)
            if late:
                log.warning("cancelling %d handler(s) still running after %gs", len(late), timeout)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        await client.close()
        log.info("%s stopped", client.user)
        self._client = None
        self._loops = []
        self._stopping = None

    async def serve(self) -> None:
        """Start (unless started), handle events until :meth:`stop` is called or the
        connection ends for good, then stop. Raises
        :class:`~zmqchat.errors.ConnectionClosed` in the second case."""
        if not (self._commands or self._messages or self._pms or self._presence or self._jobs):
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
        except Timeout as exc:
            # The reason in one line, not a traceback: nothing crashed.
            log.error("%s: %s", self.name, exc)
            raise SystemExit(3) from None
        except (BrokerError, ConnectionClosed) as exc:
            log.error("%s: %s", self.name, exc)
            raise SystemExit(1) from None

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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --------------------------------------------------------------- dispatching

    async def _dispatch(self, client: AsyncClient) -> None:
        async for event in client:
            for handler, ctx in self._route(event):
                # Waiting for a free slot holds further events back (in the client's
                # bounded queue) instead of piling up tasks.
                await self._slots.acquire()
                self._spawn(self._call(handler, ctx), _name(handler))
        if self._lost is None:
            self._lost = ConnectionClosed("the connection ended")
        self._finished.set()

    def _route(self, event: Event) -> list[tuple[Handler, Context]]:
        """The handler calls an event makes."""
        if isinstance(event, StatusEvent):
            self._on_status(event)
            return []
        if isinstance(event, SystemEvent):
            log.info("broker notice: %s", event.text)
            return []
        if isinstance(event, PresenceEvent):
            if self._mine(event.user) or self._history(event.room, event.seq):
                return []
            return [
                (r.handler, Context(self, event))
                for r in self._presence
                if r.wants_room(event.room) and r.presence in (None, event.event)
            ]
        if self._mine(event.sender):
            return []
        if isinstance(event, ChatEvent):
            if self._history(event.room, event.seq):
                return []
            calls = self._command_calls(event, event.room)
            routes = [r for r in self._messages if r.wants_room(event.room)]
        else:
            calls = self._command_calls(event, None)
            routes = self._pms
        for route in routes:
            match = route.pattern.search(event.text) if route.pattern is not None else None
            if route.pattern is None or match is not None:
                calls.append((route.handler, Context(self, event, match=match)))
        return calls

    def _command_calls(
        self, event: ChatEvent | PmEvent, room: str | None
    ) -> list[tuple[Handler, Context]]:
        text = event.text.strip()
        found = (
            _COMMAND.fullmatch(text[len(self.prefix) :]) if text.startswith(self.prefix) else None
        )
        if found is None:
            return []
        name, rest = found[1].lower(), (found[2] or "").strip()
        command = self._commands.get(name)
        if command is None:
            if name == "help" and self.help_command and self._commands:
                return [(self._help, Context(self, event, command=name))]
            return []
        if room is None and not command.pm:
            return []
        if room is not None and command.rooms is not None and room not in command.rooms:
            return []
        ctx = Context(self, event, command=name, args=tuple(rest.split()), rest=rest)
        return [(command.handler, ctx)]

    async def _help(self, ctx: Context) -> None:
        here = [
            c
            for c in self._commands.values()
            if (c.pm if ctx.room is None else c.rooms is None or ctx.room in c.rooms)
        ]
        listing = "; ".join(
            f"{self.prefix}{c.name}: {c.help}" if c.help else f"{self.prefix}{c.name}"
            for c in sorted(here, key=lambda c: c.name)
        )
        await ctx.reply(f"commands: {listing}" if listing else "no commands here")

    def _mine(self, user: str) -> bool:
        # User names are unique case-insensitively.
        return user.lower() == self.user.lower()

    def _history(self, room: str, seq: int) -> bool:
        """True for an event from before the bot joined ``room``."""
        head = self._heads.get(room)
        return head is not None and seq <= head

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

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        return task

    async def _call(self, handler: Handler, ctx: Context) -> None:
        try:
            await handler(ctx)
        except Exception as exc:
            log.exception("%s failed on %s", _name(handler), _describe(ctx.event))
            if self._error_hook is not None:
                try:
                    await self._error_hook(ctx, exc)
                except Exception:
                    log.exception("the on_error hook failed too")
        finally:
            self._slots.release()

    async def _schedule(self, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + job.delay
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            run = self._spawn(self._run_job(job), _name(job.function))
            # asyncio.wait, unlike await, leaves the run alone when stop() cancels
            # this scheduler: stop gives it the same grace as a handler.
            await asyncio.wait({run})
            due += job.interval
            now = loop.time()
            if due <= now:  # the run took longer than the interval: skip what is missed
                due += job.interval * ((now - due) // job.interval + 1)

    async def _run_job(self, job: _Job) -> None:
        try:
            await job.function(self)
        except Exception:
            log.exception("job %s failed", _name(job.function))

    def __repr__(self) -> str:
        state = "running" if self._client is not None else "stopped"
        return f"<Bot {self.user!r} {state} {self.endpoint}>"


def _check_async(function: Callable[..., Any]) -> None:
    # A plain def would "work" until its first call returns None instead of an
    # awaitable: refuse it where it is registered, with a message saying why.
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"{_name(function)} must be an async def function")


def _compile(pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if isinstance(pattern, str) else pattern


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _describe(event: RoomEventOrPm) -> str:
    """An event in a log line."""
    if isinstance(event, PmEvent):
        return f"a private message from {event.sender}: {event.text[:80]!r}"
    if isinstance(event, PresenceEvent):
        return f"{event.user} {event.event} in #{event.room} (seq {event.seq})"
    return f"#{event.room} seq {event.seq} from {event.sender}: {event.text[:80]!r}"
