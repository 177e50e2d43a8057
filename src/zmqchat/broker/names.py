"""Who holds a name beyond this broker: the seam of the engine for names and
sessions (issue 17).

One broker (the SQLite engine) is the whole truth about its names: a name is held
while a session of this broker holds it (``BrokerState.by_key``), so :class:`Names`
here agrees to everything. With the Redis engine (:mod:`.cluster.names`) a name is
held cluster-wide, a session can be taken over by another node (its client resumed
there) and a node ends only the sessions it still holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Moved:
    """A session another node held, now this node's: what it was."""

    user: str
    rooms: tuple[str, ...]
    client: str | None
    sid: int | None = None  # the session's id on every node (None: taken before sids were)
    login: tuple[int, int] | None = None  # (account id, generation) it logged in with


class Names:
    """Names and sessions as one broker sees them: its memory is all there is."""

    node = ""  # this node's name among others
    shared = False  # whether other nodes share the names (the Redis engine)

    def claim(
        self,
        key: str,
        user: str,
        token: str,
        rooms: Sequence[str],
        client: str | None,
        login: tuple[int, int] | None = None,
    ) -> int | None:
        """Hold name ``key`` for the new session ``token`` (logged in with ``login``,
        see :class:`Moved`); returns the session's sid (0: the store numbers it),
        None if a session elsewhere holds the name."""
        return 0

    def take(self, key: str, token: str, auth: str = "open") -> Moved | None:
        """Take over session ``token`` of ``key`` from the node that holds it (a
        client resuming here); None if no other node holds such a session, or if
        under ``auth`` its token no longer stands for a password (the account's
        password changed, or the name got an account) as Logins.may_resume says."""
        return None

    def take_by_login(self, key: str, new_token: str, login: tuple[int, int]) -> Moved | None:
        """Take over the session that holds ``key`` on another node for a login with
        its account's password here: it is ``new_token`` now, with ``login``, and the
        node that held it drops its connection (``closed`` {reason: replaced}). None
        if no other node holds the name."""
        return None

    def relogin(self, key: str, token: str, new_token: str, login: tuple[int, int]) -> bool:
        """Session ``token`` of ``key``, this node's, logged in again: it is
        ``new_token`` now, with ``login``. False if it is no longer this node's."""
        return True

    def rooms(self, token: str, rooms: Sequence[str]) -> None:
        """Session ``token`` is now in ``rooms`` (what a node taking it over joins)."""

    def release(self, key: str, token: str) -> bool:
        """Session ``token`` ends here: let go of ``key``. False if the session is no
        longer this node's (taken over elsewhere): it ends here without a word."""
        return True

    def online(self) -> list[str] | None:
        """Everyone with a session anywhere; None: those of this broker."""
        return None

    def members(self, room: str) -> list[str] | None:
        """The members of ``room`` on every node; None: those of this broker."""
        return None

    def member_counts(self, rooms: Sequence[str]) -> list[int] | None:
        """How many members each of ``rooms`` has on every node; None: count those
        of this broker."""
        return None

    def where(self, key: str) -> tuple[str, str, int | None] | None:
        """The other node whose session holds name ``key``, the name as that session
        registered it and its sid, if one does."""
        return None

    def holds(self, key: str, token: str) -> bool:
        """Whether session ``token`` still holds ``key`` for this node (after a
        restart: another node may have taken it over, or ended it)."""
        return True

    def reap(self, dead: str, lock_ms: int) -> list[tuple[str, tuple[str, ...]]]:
        """End the sessions of node ``dead`` (its lease ran out) unless another node
        does: (user, rooms) of each this node ended, whose leaves it must announce."""
        return []

    def nodes(self) -> list[str] | None:
        """The ROUTER endpoints the live nodes advertise to clients; None: one
        broker, which has no other node to name."""
        return None

    def tell(self, node: str, message: list[Any]) -> None:
        """Send ``message`` to node ``node`` (see :meth:`heard`)."""
        raise RuntimeError("one broker has no other node to tell")

    def heard(self) -> list[list[Any]]:
        """What other nodes told this one since the last call, in order:
        ``["moved", token]`` (one of its sessions was taken over),
        ``["pm", origin, pm_id, key, frame]`` (hand a private message to ``key``),
        ``["pm_done", pm_id, delivered]`` (what became of one it sent),
        ``["dead", node]`` (a node whose lease ran out), ``["lapsed", tokens]``
        (this node's own lease had run out: Redis holds only ``tokens`` of its
        sessions) and ``["file", key, frame]`` (hand a private file's event to
        ``key``)."""
        return []
