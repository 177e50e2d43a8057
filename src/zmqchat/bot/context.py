"""What a bot's handler is called with: the event, how it matched, and ways to answer;
and the names and descriptions the bot's log lines use for handlers and events."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from zmqchat.common.messages import ChatAck, ChatEvent, PmAck, PmEvent, PresenceEvent

if TYPE_CHECKING:
    from zmqchat.bot.runner import Bot

__all__ = ["Context", "Handler", "RoomEventOrPm"]

RoomEventOrPm = ChatEvent | PmEvent | PresenceEvent
Handler = Callable[["Context"], Awaitable[Any]]


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


def require_async(function: Callable[..., Any]) -> None:
    """Refuse ``function`` unless it is an ``async def``."""
    # A plain def would "work" until its first call returns None instead of an
    # awaitable: refuse it where it is registered, with a message saying why.
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"{name_of(function)} must be an async def function")


def name_of(function: Callable[..., Any]) -> str:
    """A handler or job in a log line and a task name."""
    return getattr(function, "__qualname__", None) or repr(function)


def describe(event: RoomEventOrPm) -> str:
    """An event in a log line."""
    if isinstance(event, PmEvent):
        return f"a private message from {event.sender}: {event.text[:80]!r}"
    if isinstance(event, PresenceEvent):
        return f"{event.user} {event.event} in #{event.room} (seq {event.seq})"
    return f"#{event.room} seq {event.seq} from {event.sender}: {event.text[:80]!r}"
