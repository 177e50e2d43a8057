"""Every typed request of the client library, defined once and without sockets.

Each function below builds a :class:`Call`: the request record to send, the reply
type it expects, and how that reply becomes the value the caller gets. The two
faces turn each function into a method of the same name and signature
(:class:`zmqchat.client.io.methods.RequestMethod`): ``Client.join(...)`` waits for the
reply on the caller's thread, ``await AsyncClient.join(...)`` on the event loop. So
this docstring of each function is the method's documentation.

Every request may also raise :class:`~zmqchat.errors.Timeout` (no reply within
``timeout``, by default the client's ``request_timeout``) and
:class:`~zmqchat.errors.ConnectionClosed` (the client is closed, or was never
connected). A :class:`~zmqchat.errors.BrokerError` carries the refusal's ``code``;
the codes listed are those the broker gives for that request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from zmqchat.common import messages as msg
from zmqchat.common import moderation as mod
from zmqchat.common import requests as rq
from zmqchat.common.protocol import HISTORY_DEFAULT_LIMIT, ErrorCode
from zmqchat.common.search import SEARCH_DEFAULT_LIMIT, Search
from zmqchat.errors import ProtocolError

_R = TypeVar("_R")  # the reply record
_T = TypeVar("_T")  # what the caller gets


def _same(reply: _R) -> _R:
    return reply


@dataclasses.dataclass(frozen=True, slots=True)
class Call(Generic[_R, _T]):
    """One request as a caller makes it: the record, the reply it expects, and how
    that reply becomes the return value. ``timeout`` (seconds; None: the client's
    ``request_timeout``) bounds the wait for the reply."""

    request: msg.Record
    reply: type[_R]
    result: Callable[[_R], _T]
    timeout: float | None = None

    def outcome(self, reply: object) -> _T | BaseException:
        """What the caller gets for ``reply`` (the reply record, or the exception that
        ended the request): the return value, or the exception to raise."""
        if isinstance(reply, BaseException):
            return reply
        if not isinstance(reply, self.reply):
            return ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"expected {self.reply.__name__}, got {type(reply).__name__}",
            )
        return self.result(reply)


@dataclasses.dataclass(frozen=True, slots=True)
class More:
    """What a call's result is when the reply was a page with more after it: the
    call for the next page, whose result gathers what came before. Both faces make
    that call in turn (:mod:`zmqchat.client.io.methods`), so the caller gets the
    whole list."""

    call: Call[Any, Any]


def _asking(request: msg.Record, reply: type[_R], timeout: float | None) -> Call[_R, _R]:
    """A call whose caller gets the reply record itself."""
    return Call(request, reply, _same, timeout)


def any_reply(request: msg.Record, timeout: float | None = None) -> Call[Any, Any]:
    """Any request record, answered by whatever reply record the broker sends."""
    return _asking(request, object, timeout)


# Each function's name and parameters are those of the method on both faces.


def join(
    room: str, private: bool = False, *, timeout: float | None = None
) -> Call[msg.Joined, msg.Joined]:
    """Join ``room`` (created on first join); returns its head ``seq`` and
    ``members`` (and ``private``, true for a members-only room). Joining a room
    again is not an error.

    ``private``: create the room members-only, with you as its operator (who alone
    may :meth:`invite`); only a room that does not exist yet can be made so.

    :class:`~zmqchat.errors.BrokerError`: ``not_invited`` (a private room you were
    not invited to), ``bad_request`` (``private`` for a room that exists and is
    public), ``invalid_name``.
    """
    request = rq.Join(room=room, private=True if private else None)
    return _asking(request, msg.Joined, timeout)


def invite(room: str, user: str, *, timeout: float | None = None) -> Call[msg.Invited, msg.Invited]:
    """Let ``user`` (a name, case-insensitive) join private ``room``, of which you
    are the operator; inviting again is not an error. The broker does not tell
    ``user``: tell them yourself.

    :class:`~zmqchat.errors.BrokerError`: ``not_operator``, ``not_in_room``,
    ``bad_request`` (``room`` is public), ``invalid_name``.
    """
    return _asking(rq.Invite(room=room, user=user), msg.Invited, timeout)


def topic(
    room: str, text: str | None = None, *, timeout: float | None = None
) -> Call[mod.TopicInfo, mod.TopicInfo]:
    """Read ``room``'s topic (``text`` "" when it has none; ``sender`` and ``ts``:
    who set it and when; ``locked``), or set it to ``text`` ("" clears it): a
    ``topic`` event in the room's history, whose ``seq`` the answer carries. You need
    not be in the room, if you could join it.

    :class:`~zmqchat.errors.BrokerError`: ``not_operator`` (the topic is locked),
    ``no_such_room``, ``banned``, ``not_invited``, ``too_long`` (over 512 bytes),
    ``empty`` (only spaces), ``rate_limited``, ``invalid_name``.
    """
    return _asking(mod.Topic(room=room, text=text), mod.TopicInfo, timeout)


# The moderation requests: each needs an operator of the room (its creator, or whom
# an operator made one), not a member; the answer's ``seq`` is the moderation event
# the change made, absent when nothing changed. Each may also raise BrokerError
# ``not_operator``, ``no_such_room`` or ``invalid_name``.


def op(room: str, user: str, *, timeout: float | None = None) -> Call[mod.Moderated, mod.Moderated]:
    """Make ``user`` an operator of ``room``: they may then do all you may."""
    return _asking(mod.Op(room=room, user=user), mod.Moderated, timeout)


def deop(
    room: str, user: str, *, timeout: float | None = None
) -> Call[mod.Moderated, mod.Moderated]:
    """Take operator status in ``room`` from ``user`` (its creator's too)."""
    return _asking(mod.Deop(room=room, user=user), mod.Moderated, timeout)


def kick(
    room: str, user: str, reason: str | None = None, *, timeout: float | None = None
) -> Call[mod.Moderated, mod.Moderated]:
    """Remove ``user`` from ``room``, saying ``reason``; they may join again.

    :class:`~zmqchat.errors.BrokerError`: also ``not_in_room`` (``user`` is not in
    it), ``too_long`` (a reason over 512 bytes).
    """
    return _asking(mod.Kick(room=room, user=user, reason=reason), mod.Moderated, timeout)


def ban(
    room: str,
    user: str,
    duration: float | None = None,
    reason: str | None = None,
    *,
    timeout: float | None = None,
) -> Call[mod.Moderated, mod.Moderated]:
    """Keep ``user`` out of ``room`` for ``duration`` seconds (None: until
    unbanned), removing them if they are in it. With accounts the ban is the
    account's; without, the name's, whoever takes it (see docs/security.md).

    :class:`~zmqchat.errors.BrokerError`: also ``bad_request`` (yourself, an admin,
    a duration out of range).
    """
    request = mod.Ban(room=room, user=user, duration=duration, reason=reason)
    return _asking(request, mod.Moderated, timeout)


def unban(
    room: str, user: str, *, timeout: float | None = None
) -> Call[mod.Moderated, mod.Moderated]:
    """Let ``user`` into ``room`` again."""
    return _asking(mod.Unban(room=room, user=user), mod.Moderated, timeout)


def lock(room: str, *, timeout: float | None = None) -> Call[mod.Moderated, mod.Moderated]:
    """Lock ``room``'s topic: only its operators may set it."""
    return _asking(mod.Lock(room=room), mod.Moderated, timeout)


def unlock(room: str, *, timeout: float | None = None) -> Call[mod.Moderated, mod.Moderated]:
    """Let whoever may post to ``room`` set its topic again."""
    return _asking(mod.Unlock(room=room), mod.Moderated, timeout)


def leave(room: str, *, timeout: float | None = None) -> Call[msg.Left, msg.Left]:
    """Leave ``room``; its events stop.

    :class:`~zmqchat.errors.BrokerError`: ``not_in_room``, ``invalid_name``.
    """
    return _asking(rq.Leave(room=room), msg.Left, timeout)


def send(
    room: str,
    text: str,
    *,
    data: dict[str, Any] | None = None,
    external: bool = False,
    timeout: float | None = None,
) -> Call[msg.ChatAck, msg.ChatAck]:
    """Say ``text`` in ``room`` (with an optional machine-readable ``data`` map);
    returns once the broker has stored it, with its ``seq``.

    ``external``: post without joining ``room`` (a script saying one thing): allowed
    where a join would be, it creates the room as a join does, and nobody sees you
    come or go.

    :class:`~zmqchat.errors.BrokerError`: ``not_in_room`` (not a member, without
    ``external``), ``not_invited`` (a private room, with ``external``), ``empty``,
    ``too_long`` (text or data), ``rate_limited``, ``invalid_name``.
    """
    request = rq.Chat(room=room, text=text, data=data, external=True if external else None)
    return _asking(request, msg.ChatAck, timeout)


def edit(
    room: str, of: int, text: str, *, timeout: float | None = None
) -> Call[msg.ChatAck, msg.ChatAck]:
    """Change the text of your message ``of`` (its seq) in ``room`` to ``text``;
    returns the ack of the ``edit`` event, which the room's members receive (with
    its own ``seq``). Only within the broker's ``edit_window`` (15 minutes by
    default) of sending it.

    :class:`~zmqchat.errors.BrokerError`: ``not_yours``, ``too_late``,
    ``no_such_message``, ``not_invited``, ``empty``, ``too_long``,
    ``rate_limited``, ``invalid_name``.
    """
    return _asking(rq.Edit(room=room, of=of, text=text), msg.ChatAck, timeout)


def delete(room: str, of: int, *, timeout: float | None = None) -> Call[msg.ChatAck, msg.ChatAck]:
    """Delete your message ``of`` (its seq) in ``room``: its text goes from the
    store and from history; returns the ack of the ``delete`` event the room's
    members receive. Deleting it again is acked again. Within ``edit_window``, as
    :meth:`edit`.

    :class:`~zmqchat.errors.BrokerError`: ``not_yours``, ``too_late``,
    ``no_such_message``, ``not_invited``, ``rate_limited``, ``invalid_name``.
    """
    return _asking(rq.Delete(room=room, of=of), msg.ChatAck, timeout)


def pm(
    user: str, text: str, *, data: dict[str, Any] | None = None, timeout: float | None = None
) -> Call[msg.PmAck, msg.PmAck]:
    """Send a private message to ``user``; returns once it was handed over.

    :class:`~zmqchat.errors.BrokerError`: ``user_offline``, ``no_such_user``,
    ``empty``, ``too_long``, ``rate_limited``, ``invalid_name``.
    """
    return _asking(rq.Pm(to=user, text=text, data=data), msg.PmAck, timeout)


def _users_after(
    room: str | None, before: list[str], timeout: float | None
) -> Callable[[msg.Users], list[str]]:
    def result(reply: msg.Users) -> list[str]:
        names = before + list(reply.users)
        if reply.more and reply.users:
            request = rq.Who(room=room, after=names[-1])
            return More(Call(request, msg.Users, _users_after(room, names, timeout), timeout))  # type: ignore[return-value]
        return names

    return result


def who(room: str | None = None, *, timeout: float | None = None) -> Call[msg.Users, list[str]]:
    """Names of the users in ``room``, or of everyone online (all of them: the
    broker answers in pages, asked for in turn).

    :class:`~zmqchat.errors.BrokerError`: ``invalid_name``.
    """
    return Call(rq.Who(room=room), msg.Users, _users_after(room, [], timeout), timeout)


def _rooms_after(
    before: list[msg.RoomInfo], timeout: float | None
) -> Callable[[msg.RoomList], list[msg.RoomInfo]]:
    def result(reply: msg.RoomList) -> list[msg.RoomInfo]:
        rooms = before + list(reply.rooms)
        if reply.more and reply.rooms:
            request = rq.ListRooms(after=rooms[-1].name)
            return More(Call(request, msg.RoomList, _rooms_after(rooms, timeout), timeout))  # type: ignore[return-value]
        return rooms

    return result


def list_rooms(*, timeout: float | None = None) -> Call[msg.RoomList, list[msg.RoomInfo]]:
    """Every room with members or history: name, member count (0 included), head
    seq, topic if it has one (all of them: the broker answers in pages, asked for
    in turn); a private room only if you are in it."""
    return Call(rq.ListRooms(), msg.RoomList, _rooms_after([], timeout), timeout)


def history(
    room: str | None = None,
    *,
    with_user: str | None = None,
    after: int | None = None,
    before: int | None = None,
    limit: int = HISTORY_DEFAULT_LIMIT,
    external: bool = False,
    timeout: float | None = None,
) -> Call[msg.HistoryPage, msg.HistoryPage]:
    """A page of a room's events, or of private messages ``with_user``.

    ``after``: the first ``limit`` events after that seq; ``before``: the last
    ``limit`` before it; neither: the latest. ``more`` says whether further
    events exist in that direction. ``external``: read a room without joining it,
    where a join would be allowed.

    :class:`~zmqchat.errors.BrokerError`: ``not_in_room`` (not a member, without
    ``external``), ``no_such_room`` and ``not_invited`` (with ``external``),
    ``bad_request`` (both or neither of ``room`` and ``with_user``, a ``limit`` out
    of range), ``invalid_name``.
    """
    request = rq.History(
        room=room,
        with_user=with_user,
        after=after,
        before=before,
        limit=limit,
        external=True if external else None,
    )
    return _asking(request, msg.HistoryPage, timeout)


def search(
    words: str,
    *,
    room: str | None = None,
    with_user: str | None = None,
    before: float | None = None,
    limit: int = SEARCH_DEFAULT_LIMIT,
    external: bool = False,
    timeout: float | None = None,
) -> Call[msg.SearchResults, msg.SearchResults]:
    """Messages holding every one of ``words`` (any order, any case), newest first, as
    they read now (an edited one by its latest text, a deleted one not at all): in
    ``room``, or in every room you are in. ``external``: also in the rooms you could
    join (a room you are not in, with ``room``). ``with_user``: in your private
    messages with that user instead (``PmEvent`` matches; the ones
    ``history(with_user=...)`` reads: an account's whole conversation, else this
    session's). ``before``: older than that time: pass the last match's ``edited or
    ts`` to read on while ``more`` is true.

    :class:`~zmqchat.errors.BrokerError`: ``not_in_room`` (``room`` without
    ``external``), ``no_such_room`` and ``not_invited`` (with ``external``),
    ``empty`` (no word in ``words``), ``too_long``, ``bad_request`` (more than 16
    words, a ``limit`` out of 1..100, both ``room`` and ``with_user``),
    ``invalid_name``. :class:`~zmqchat.errors.ProtocolError` ``unsupported``: a
    broker too old to search private messages (it searched the rooms instead).
    """
    request = Search(
        words=words,
        room=room,
        before=before,
        limit=limit,
        external=True if external else None,
        with_user=with_user,
    )
    if with_user is None:
        return _asking(request, msg.SearchResults, timeout)
    return Call(request, msg.SearchResults, _searched_with, timeout)


def _searched_with(reply: msg.SearchResults) -> msg.SearchResults:
    # A broker that predates `with` ignores it, as v1 does unknown fields, and
    # answers from the rooms: never pass those off as the private conversation.
    if reply.with_user is None:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, "this broker can't search private messages (it is too old)"
        )
    return reply


def ping(*, timeout: float | None = None) -> Call[msg.Pong, msg.Pong]:
    """Round trip to the broker; returns the head seq of each room we are in."""
    return _asking(rq.Ping(), msg.Pong, timeout)
