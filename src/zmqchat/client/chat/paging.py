"""Reading a room's history across pages, for the commands and the console.

The broker answers at most ``HISTORY_MAX_LIMIT`` events per ``history`` request;
these helpers ask page after page, and stop at a boundary seq so that what they
return never overlaps the live events the client delivers after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from zmqchat.client.io.sync import Client
from zmqchat.common.messages import DeleteEvent, EditEvent, PresenceEvent, RoomEvent
from zmqchat.common.protocol import HISTORY_MAX_LIMIT


@dataclasses.dataclass(frozen=True, slots=True)
class Earlier:
    """A page of a room's past, oldest first. ``next_before`` is the seq to page
    back from next time; ``more`` says whether anything older may be left."""

    events: list[RoomEvent]
    more: bool
    next_before: int | None


def earlier_events(
    client: Client,
    room: str,
    count: int,
    *,
    before: int | None,
    chat_only: bool = False,
    scan_limit: int | None = 5 * HISTORY_MAX_LIMIT,
    external: bool = False,
) -> Earlier:
    """The last ``count`` events of ``room`` with a seq below ``before`` (all of them
    when None), oldest first, and where to carry on paging back.

    ``chat_only`` keeps messages (and topic and moderation events, which a room
    shows among them) and skips presence events, reading back at most
    ``scan_limit`` events to find them (a room of comings and goings has few);
    None reads back as far as it takes, to the start of the room if need be.
    ``external`` reads a room the client is not in (see ``Client.history``).
    """
    out: list[RoomEvent] = []
    scanned = 0
    more = True
    limit = 0
    while len(out) < count and (scan_limit is None or scanned < scan_limit):
        want = count - len(out)
        # Looking for messages among presence events: read more than needed, and
        # twice as many each page, so a long run of joins and leaves (a script
        # command's each time it runs) takes a few requests, not hundreds.
        limit = min(HISTORY_MAX_LIMIT, max(4 * want, 2 * limit) if chat_only else want)
        page = client.history(room, before=before, limit=limit, external=external)
        seen = [e for e in page.messages if isinstance(e, RoomEvent)]
        # Edits and deletes are already applied to the messages history holds.
        events = [e for e in seen if not isinstance(e, EditEvent | DeleteEvent)]
        scanned += len(seen)
        out[:0] = [e for e in events if not isinstance(e, PresenceEvent)] if chat_only else events
        if seen:
            before = seen[0].seq
        if not page.more or not seen:
            more = False
            break
    if len(out) > count:
        # Read further back than shown: the next page starts again after them.
        out = out[-count:]
        more = True
        before = out[0].seq
    return Earlier(out, more, before)


def events_between(client: Client, room: str, after: int, before: int) -> Iterator[RoomEvent]:
    """The events of ``room`` with ``after < seq < before``, oldest first."""
    while after + 1 < before:
        page = client.history(room, after=after, limit=HISTORY_MAX_LIMIT)
        events = [e for e in page.messages if isinstance(e, RoomEvent)]
        for event in events:
            if event.seq >= before:
                return
            if not isinstance(event, EditEvent | DeleteEvent):  # already applied
                yield event
        if not page.more or not events:
            return
        after = events[-1].seq


__all__ = ["Earlier", "earlier_events", "events_between"]
