"""The records of room topics and moderation, additive to protocol v1
(docs/protocol.md §2.12, §2.13): the requests, their replies, and the events they
put in a room's history.

Every room has operators (its creator, whoever an operator made one, and the
broker's ``admins``); they may kick, ban, make others operators and lock the
topic. Each change is a room event with the room's next ``seq``, stored before it
is published, so a client that missed it gets it from ``history`` like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from zmqchat.common.protocol import (
    MAX_BAN_SECONDS,
    ErrorCode,
    canonical_room,
    check_name,
    check_short_text,
    optional,
)
from zmqchat.common.records import Record, Ref, keyword_only, record
from zmqchat.errors import ProtocolError

# The `action` of a moderation event and of a `moderated` reply: the request's type.
ACTIONS: Final = ("op", "deop", "kick", "ban", "unban", "lock", "unlock")

# ---------------------------------------------------------------------- requests


@record("topic")
class Topic(Record):
    """Read ``room``'s topic, or set it to ``text`` ("" clears it)."""

    room: str
    text: str | None = None
    ref: Ref = None


# Each of these is an operator's (not_operator otherwise), answered `moderated`.


@record("op")
class Op(Record):
    """Make ``user`` an operator of ``room``."""

    room: str
    user: str
    ref: Ref = None


@record("deop")
class Deop(Record):
    """Take operator status from ``user``."""

    room: str
    user: str
    ref: Ref = None


@record("kick")
class Kick(Record):
    """Remove ``user`` from ``room``; they may join again."""

    room: str
    user: str
    reason: str | None = None
    ref: Ref = None


@record("ban")
class Ban(Record):
    """Keep ``user`` out of ``room`` for ``duration`` seconds (None: without end);
    a member is removed too."""

    room: str
    user: str
    duration: float | None = None
    reason: str | None = None
    ref: Ref = None


@record("unban")
class Unban(Record):
    room: str
    user: str
    ref: Ref = None


@record("lock")
class Lock(Record):
    """Only operators may set ``room``'s topic from now on."""

    room: str
    ref: Ref = None


@record("unlock")
class Unlock(Record):
    room: str
    ref: Ref = None


Moderate = Op | Deop | Kick | Ban | Unban | Lock | Unlock

# ----------------------------------------------------------------------- replies


@record("topic", sender="from")
class TopicInfo(Record):
    """The answer to ``topic``: the topic ("" for none), who set it and when (absent
    if nobody ever did), ``locked`` when only operators may set it, and the ``seq``
    of the ``topic`` event a change made.

    It shares its type with :class:`TopicEvent`: a reply has a ``ref`` (and comes
    over ROUTER), an event none (and comes over PUB or in history)."""

    room: str
    text: str
    sender: str | None = None
    ts: float | None = None
    locked: bool | None = None
    seq: int | None = None
    ref: Ref = None


@record("moderated")
class Moderated(Record):
    """The answer to a moderation request: ``seq`` of the ``moderation`` event it
    made, absent when it changed nothing (an operator made operator again, say)."""

    room: str
    action: str
    user: str | None = None
    until: float | None = None
    seq: int | None = None
    ref: Ref = None


# ------------------------------------------------------------------------ events


@record("topic", sender="from")
class TopicEvent(Record):
    """``sender`` set the room's topic to ``text`` ("" cleared it)."""

    room: str
    seq: int
    sender: str
    text: str
    ts: float = keyword_only()


@record("moderation", sender="from")
class ModerationEvent(Record):
    """Operator ``sender`` did ``action`` (one of :data:`ACTIONS`), to ``user`` where
    there is one, with the ``reason`` they gave; a ban ends at ``until`` (absent:
    without end).

    A member removed by a kick or a ban also gets it over ROUTER, since the broker
    may end their subscription to the room before it is published."""

    room: str
    seq: int
    sender: str
    action: str
    user: str | None = None
    until: float | None = None
    reason: str | None = None
    ts: float = keyword_only()

    @property
    def removes(self) -> str | None:
        """The user this event takes out of the room (a kick or a ban), if any."""
        return self.user if self.action in ("kick", "ban") else None


@record("")
class UnknownEvent(Record):
    """A room event of a type this client does not know (a newer broker's): kept so
    its ``seq`` counts as seen and gap filling never waits for it."""

    type: str
    room: str
    seq: int


# ------------------------------------------------------------ parsing requests
# Strict, as every request is (see zmqchat.common.parsing, which uses these).


def _required(msg: dict[str, Any], key: str) -> Any:
    value = msg.get(key)
    if value is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"missing field '{key}'")
    return value


def _room_field(msg: dict[str, Any]) -> str:
    return canonical_room(_required(msg, "room"))


def _parse_topic(msg: dict[str, Any], ref: Ref) -> Topic:
    room = _room_field(msg)
    text = msg.get("text")
    if text is not None:
        text = check_short_text(text, "topic", allow_empty=True)
    return Topic(room=room, text=text, ref=ref)


def _target(msg: dict[str, Any]) -> tuple[str, str]:
    """The ``room`` and ``user`` of a moderation request."""
    return _room_field(msg), check_name(_required(msg, "user"), "user name")


def _reason(msg: dict[str, Any]) -> str | None:
    reason = msg.get("reason")
    return None if reason is None else check_short_text(reason, "reason")


def _parse_op(msg: dict[str, Any], ref: Ref) -> Op:
    room, user = _target(msg)
    return Op(room=room, user=user, ref=ref)


def _parse_deop(msg: dict[str, Any], ref: Ref) -> Deop:
    room, user = _target(msg)
    return Deop(room=room, user=user, ref=ref)


def _parse_kick(msg: dict[str, Any], ref: Ref) -> Kick:
    room, user = _target(msg)
    return Kick(room=room, user=user, reason=_reason(msg), ref=ref)


def _parse_ban(msg: dict[str, Any], ref: Ref) -> Ban:
    room, user = _target(msg)
    duration = optional(msg, "duration", (int, float), "a number of seconds")
    if duration is not None and (isinstance(duration, bool) or not 0 < duration <= MAX_BAN_SECONDS):
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            f"'duration' must be more than 0 and at most {MAX_BAN_SECONDS:.0f} seconds"
            " (leave it out for a ban without end)",
        )
    return Ban(
        room=room,
        user=user,
        duration=None if duration is None else float(duration),
        reason=_reason(msg),
        ref=ref,
    )


def _parse_unban(msg: dict[str, Any], ref: Ref) -> Unban:
    room, user = _target(msg)
    return Unban(room=room, user=user, ref=ref)


def _parse_lock(msg: dict[str, Any], ref: Ref) -> Lock:
    return Lock(room=_room_field(msg), ref=ref)


def _parse_unlock(msg: dict[str, Any], ref: Ref) -> Unlock:
    return Unlock(room=_room_field(msg), ref=ref)


REQUEST_PARSERS: Final[dict[str, Callable[[dict[str, Any], Ref], Topic | Moderate]]] = {
    "topic": _parse_topic,
    "op": _parse_op,
    "deop": _parse_deop,
    "kick": _parse_kick,
    "ban": _parse_ban,
    "unban": _parse_unban,
    "lock": _parse_lock,
    "unlock": _parse_unlock,
}

__all__ = [
    "ACTIONS",
    "REQUEST_PARSERS",
    "Ban",
    "Deop",
    "Kick",
    "Lock",
    "Moderate",
    "Moderated",
    "ModerationEvent",
    "Op",
    "Topic",
    "TopicEvent",
    "TopicInfo",
    "Unban",
    "UnknownEvent",
    "Unlock",
]
