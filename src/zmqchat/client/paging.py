"""Reading a room's history across pages, for the commands and the console.

The broker answers at most ``HISTORY_MAX_LIMIT`` events per ``history`` request;
these helpers ask page after page, and stop at a boundary seq so that what they
return never overlaps the live events the client delivers after it.
"""

from __future__ import annotations

from collections.abc import Iterator

from zmqchat.client.api import Client
from zmqchat.common.messages import ChatEvent, PresenceEvent
from zmqchat.common.protocol import HISTORY_MAX_LIMIT

RoomEvent = ChatEvent | PresenceEvent


def last_events(client: Client, room: str, count: int, *, before: int | None) -> list[RoomEvent]:
    """The last ``count`` events of ``room`` with a seq below ``before`` (all of them
    when None), oldest first."""
    out: list[RoomEvent] = []
    while len(out) < count:
        limit = min(HISTORY_MAX_LIMIT, count - len(out))
        page = client.history(room, before=before, limit=limit)
        events = [e for e in page.messages if isinstance(e, ChatEvent | PresenceEvent)]
        out[:0] = events
        if not page.more or not events:
            break
        before = events[0].seq
    return out[-count:] if count else []


def events_between(client: Client, room: str, after: int, before: int) -> Iterator[RoomEvent]:
    """The events of ``room`` with ``after < seq < before``, oldest first."""
    while after + 1 < before:
        page = client.history(room, after=after, limit=HISTORY_MAX_LIMIT)
        events = [e for e in page.messages if isinstance(e, ChatEvent | PresenceEvent)]
        for event in events:
            if event.seq >= before:
                return
            yield event
        if not page.more or not events:
            return
        after = events[-1].seq


__all__ = ["RoomEvent", "events_between", "last_events"]
