"""Which handlers an event calls: the handlers registered for commands, messages,
private messages and presence, and the decision, event by event, of the calls to
make. Pure: no sockets and no tasks, so every rule can be tried with an event alone.

::

    router = Router(prefix="!")

    @router.command("ping")
    async def ping(ctx: Context) -> None: ...

    router.route(event, bot, me="pingbot", heads={"general": 41})  # [Call(ping, ctx)]
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar

from zmqchat.bot.context import Context, Handler, require_async
from zmqchat.client.core.events import Event
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent

if TYPE_CHECKING:
    from zmqchat.bot.runner import Bot

__all__ = ["Call", "Command", "RoomArg", "Router"]

_H = TypeVar("_H", bound=Handler)

RoomArg = str | Iterable[str] | None

# A command after the prefix: a word right after it, then its arguments ("! ping"
# and "!" are not commands).
_COMMAND: Final = re.compile(r"(\S+)(?:\s+(.*))?", re.DOTALL)


class Call(NamedTuple):
    """One handler call an event makes."""

    handler: Handler
    context: Context


@dataclasses.dataclass(frozen=True, slots=True)
class Command:
    """A registered command: its lower-case name, where it answers, its help line."""

    name: str
    handler: Handler
    rooms: frozenset[str] | None  # None: every room
    pm: bool
    help: str

    def serves(self, room: str | None) -> bool:
        """True if the command answers in ``room`` (None: in a private message)."""
        return self.pm if room is None else self.rooms is None or room in self.rooms


@dataclasses.dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    rooms: frozenset[str] | None  # None: every room
    pattern: re.Pattern[str] | None = None
    presence: str | None = None  # "join" / "leave" / None: both

    def wants_room(self, room: str) -> bool:
        return self.rooms is None or room in self.rooms


class Router:
    """The handlers of a bot and the calls each event makes to them.

    ``prefix`` starts commands (``!ping``). ``help_command`` answers ``!help`` with
    the commands and the first line of their docstrings (a command named ``help``
    replaces it).
    """

    def __init__(self, *, prefix: str = "!", help_command: bool = True) -> None:
        if not prefix or prefix != prefix.strip():
            raise ValueError(f"prefix must be non-empty, without spaces: {prefix!r}")
        self.prefix = prefix
        self.help_command = help_command
        self._rooms: dict[str, None] = {}
        self._commands: dict[str, Command] = {}
        self._messages: list[_Route] = []
        self._pms: list[_Route] = []
        self._presence: list[_Route] = []

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms handlers name, in the order named: a handler for a room is
        useless unless the bot is in it, so the bot joins them."""
        return tuple(self._rooms)

    @property
    def commands(self) -> Mapping[str, Command]:
        """The registered commands by lower-case name."""
        return types.MappingProxyType(self._commands)

    @property
    def empty(self) -> bool:
        """True while no handler is registered."""
        return not (self._commands or self._messages or self._pms or self._presence)

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
            require_async(handler)
            doc = help if help is not None else (inspect.getdoc(handler) or "")
            summary = doc.strip().splitlines()[0] if doc.strip() else ""
            self._commands[key] = Command(key, handler, rooms, pm, summary)
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

    def _room_set(self, room: RoomArg) -> frozenset[str] | None:
        if room is None:
            return None
        names = frozenset(r.lower() for r in ([room] if isinstance(room, str) else room))
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
            require_async(handler)
            routes.append(_Route(handler, rooms, pattern, presence))
            return handler

        return register

    # ------------------------------------------------------------------ routing

    def route(self, event: Event, bot: Bot, *, me: str, heads: Mapping[str, int]) -> list[Call]:
        """The handler calls ``event`` makes, in order, their contexts naming ``bot``.

        ``me`` is the bot's user name: its own messages, joins and leaves make no
        call (names are compared case-insensitively, as the broker does). ``heads``
        maps each room to its head seq when the bot joined: events at or below it are
        history and make no call. Connection changes and broker notices make none.
        """
        if isinstance(event, PresenceEvent):
            if _same_user(event.user, me) or _history(heads, event.room, event.seq):
                return []
            return [
                Call(r.handler, Context(bot, event))
                for r in self._presence
                if r.wants_room(event.room) and r.presence in (None, event.event)
            ]
        if not isinstance(event, ChatEvent | PmEvent) or _same_user(event.sender, me):
            return []
        if isinstance(event, ChatEvent):
            if _history(heads, event.room, event.seq):
                return []
            calls = self._command_calls(event, bot, event.room)
            routes = [r for r in self._messages if r.wants_room(event.room)]
        else:
            calls = self._command_calls(event, bot, None)
            routes = self._pms
        for route in routes:
            match = route.pattern.search(event.text) if route.pattern is not None else None
            if route.pattern is None or match is not None:
                calls.append(Call(route.handler, Context(bot, event, match=match)))
        return calls

    def _command_calls(self, event: ChatEvent | PmEvent, bot: Bot, room: str | None) -> list[Call]:
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
                return [Call(self.answer_help, Context(bot, event, command=name))]
            return []
        if not command.serves(room):
            return []
        ctx = Context(bot, event, command=name, args=tuple(rest.split()), rest=rest)
        return [Call(command.handler, ctx)]

    def help_text(self, room: str | None) -> str:
        """What ``!help`` answers in ``room`` (None: in a private message): the
        commands that answer there, by name, with their help lines."""
        listing = "; ".join(
            f"{self.prefix}{c.name}: {c.help}" if c.help else f"{self.prefix}{c.name}"
            for c in sorted(self._commands.values(), key=lambda c: c.name)
            if c.serves(room)
        )
        return f"commands: {listing}" if listing else "no commands here"

    async def answer_help(self, ctx: Context) -> None:
        """The built-in ``!help`` command."""
        await ctx.reply(self.help_text(ctx.room))


def _same_user(user: str, me: str) -> bool:
    # User names are unique case-insensitively.
    return user.lower() == me.lower()


def _history(heads: Mapping[str, int], room: str, seq: int) -> bool:
    """True for an event from before the bot joined ``room``."""
    head = heads.get(room)
    return head is not None and seq <= head


def _compile(pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if isinstance(pattern, str) else pattern
