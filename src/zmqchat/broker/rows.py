"""What the store's rows become: records for replies, and pages of history.

SQL that writes stays in :mod:`.store`; here are the pure parts of reading: how a
history query is bounded and paged, and how a row turns back into the event a
client was sent; and the one row built outside the store, a private message's (an
engine's nodes apply other nodes' pms: cluster/records.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final

import msgpack

from zmqchat.broker.schema import (
    KIND_CHAT,
    KIND_DELETE,
    KIND_EDIT,
    KIND_FILE,
    KIND_JOIN,
    KIND_LEAVE,
    KIND_MODERATION,
    KIND_TOPIC,
)
from zmqchat.common.files import FileEvent
from zmqchat.common.messages import (
    ChatEvent,
    DeleteEvent,
    EditEvent,
    PmEvent,
    PresenceEvent,
    Ref,
    RoomEvent,
)
from zmqchat.common.moderation import ModerationEvent, TopicEvent
from zmqchat.common.protocol import MAX_HISTORY_REPLY_BYTES, pm_key

_PRESENCE: Final = {KIND_JOIN: "join", KIND_LEAVE: "leave"}
_unpackb = msgpack.unpackb
# What an event costs in a reply beyond its text and data (keys, names, numbers).
_ROW_OVERHEAD: Final = 64


@dataclasses.dataclass(frozen=True, slots=True)
class StoredSession:
    sid: int
    token: str
    user: str
    rooms: tuple[str, ...]
    client: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class StoredAck:
    """What a chat or pm retry needs to be acked again after a broker restart."""

    ref: Ref
    room: str | None  # chat
    seq: int | None
    to: str | None  # pm
    id: int | None
    ts: float
    text: str
    queued: bool = False  # a pm still in its recipient's mailbox


def page_query(
    sql: str,
    params: list[Any],
    key: str,
    after: int | None,
    before: int | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """Bound a history query to rows with ``key`` in (after, before): the first
    ``limit`` after ``after``, or else the last ``limit``; one row more tells whether
    there are more."""
    if after is not None:
        sql += f" AND {key} > ?"
        params.append(after)
    if before is not None:
        sql += f" AND {key} < ?"
        params.append(before)
    sql += f" ORDER BY {key} {'ASC' if after is not None else 'DESC'} LIMIT ?"
    params.append(limit + 1)
    return sql, params


def page(
    found: Iterable[tuple[Any, ...]], limit: int, *, ascending: bool
) -> tuple[list[tuple[Any, ...]], bool]:
    """The rows of a :func:`page_query`, in ascending order, and whether more exist
    in the direction of travel."""
    rows: list[tuple[Any, ...]] = []
    more = False
    size = 0
    for row in found:
        # Stop reading once the page is bigger than a reply can be (the handler
        # trims it exactly): a request for 500 events of 20 KiB each must not make
        # the broker read 10 MB to send back 64 KiB. Text and data are columns 4
        # and 5 of both history queries.
        size += len(row[4] or "") + len(row[5] or b"") + _ROW_OVERHEAD
        if len(rows) == limit or (rows and size > MAX_HISTORY_REPLY_BYTES):
            more = True
            break
        rows.append(row)
    if not ascending:
        rows.reverse()
    return rows, more


def unpack_data(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    data: dict[str, Any] = _unpackb(blob, raw=False)
    return data


def room_event(room: str, row: tuple[Any, ...]) -> RoomEvent | None:
    """The event a row of ``events`` (seq, ts, kind, user, text, data, reason, of,
    edited) was published as; None for a kind this broker does not show."""
    seq, ts, kind, user, text, data, reason, of, edited = row
    if kind == KIND_CHAT:
        if text is None:  # deleted: its text and data are gone from the store
            return ChatEvent(room=room, seq=seq, sender=user, text="", ts=ts, deleted=True)
        return ChatEvent(
            room=room, seq=seq, sender=user, text=text, ts=ts, data=unpack_data(data), edited=edited
        )
    if kind == KIND_EDIT:
        return EditEvent(room=room, seq=seq, sender=user, of=of, text=text, ts=ts)
    if kind == KIND_DELETE:
        return DeleteEvent(room=room, seq=seq, sender=user, of=of, ts=ts)
    if kind == KIND_TOPIC:
        return TopicEvent(room=room, seq=seq, sender=user, text=text or "", ts=ts)
    if kind == KIND_MODERATION:
        what = unpack_data(data) or {}
        return ModerationEvent(
            room=room,
            seq=seq,
            sender=user,
            action=what.get("action", "?"),
            user=what.get("user"),
            until=what.get("until"),
            reason=reason,
            ts=ts,
        )
    if kind == KIND_FILE:
        what = unpack_data(data) or {}
        return FileEvent(
            room=room,
            seq=seq,
            sender=user,
            name=text or "",
            size=what.get("size", 0),
            sha256=what.get("sha256", ""),
            id=what.get("id", 0),
            ts=ts,
        )
    presence = _PRESENCE.get(kind)
    if presence is None:
        return None
    return PresenceEvent(room=room, seq=seq, user=user, event=presence, ts=ts, reason=reason)


def pm_event(row: tuple[Any, ...], *, keyed: bool = True) -> PmEvent:
    """A pm as its recipient is handed it, from (id, ts, sender, recipient, text,
    data, sender_sid, ref); ``keyed`` False, or a row without the last two, leaves
    out its ``key``."""
    keyed = keyed and len(row) > 7 and row[6] is not None and row[7] is not None
    return PmEvent(
        id=row[0],
        ts=row[1],
        sender=row[2],
        to=row[3],
        text=row[4],
        data=unpack_data(row[5]),
        key=pm_key(row[6], row[7]) if keyed else None,
    )


INSERT_PMS: Final = (
    "INSERT INTO pms (id, ts, sender, sender_key, recipient, recipient_key, text,"
    " data, sender_sid, recipient_sid, ref, convo, queued)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def pm_row(
    pm_id: int,
    ts: float,
    sender: str,
    recipient: str,
    text: str,
    data: bytes | None,
    sender_sid: int | None,
    recipient_sid: int | None,
    ref: Ref,
    queued: bool,
) -> tuple[Any, ...]:
    """A private message's row of `pms`, as :data:`INSERT_PMS` takes it."""
    keys = sorted((sender.lower(), recipient.lower()))
    return (
        pm_id,
        ts,
        sender,
        sender.lower(),
        recipient,
        recipient.lower(),
        text,
        data,
        sender_sid,
        recipient_sid,
        ref,
        " ".join(keys),
        1 if queued else None,
    )
