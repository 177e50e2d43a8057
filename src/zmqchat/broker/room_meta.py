"""A room's metadata as the rest of the broker asks about it: who may moderate it
(its operators and the broker's ``admins``), who is banned from it and until when,
its topic and whether it is locked, and the record of its creation (its creator is
its first operator).

The tables (``room_meta``, ``room_ops``, ``bans``; :mod:`.schema`) are read where a
request needs them, in the batch's transaction; :mod:`.moderation` changes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from zmqchat.broker.store import Store
from zmqchat.common.durations import duration_text
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.errors import ProtocolError


class RoomMeta:
    """The questions about a room that other parts ask (who may moderate it, who is
    banned from it, its topic) and the record of its creation."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        *,
        admins: Iterable[str] = (),
        accounts: bool = False,
    ) -> None:
        """``admins``: names that are operators of every room; ``accounts``: the
        broker has accounts (``auth`` is not ``open``), so a ban names one."""
        self.store = store
        self.clock = clock
        self.admins = frozenset(user_key(name) for name in admins)
        self.accounts = accounts

    def is_operator(self, key: str, room: str) -> bool:
        if key in self.admins:
            return True
        sql = "SELECT 1 FROM room_ops WHERE room = ? AND user = ?"
        return self.store.reader().execute(sql, (room, key)).fetchone() is not None

    def ban_until(self, key: str, room: str) -> float | None:
        """When user ``key``'s ban from ``room`` ends (``inf`` for never), or None
        if they are not banned. A ban of a name that had an account holds only while
        the name is still that account's (one deleted and made again is someone
        else); admins are never banned."""
        if key in self.admins:
            return None
        row = (
            self.store.reader()
            .execute("SELECT account, until FROM bans WHERE room = ? AND user = ?", (room, key))
            .fetchone()
        )
        if row is None:
            return None
        account, until = row
        if until is not None and until <= self.clock():
            return None
        if account is not None:
            holder = self.store.account(key)
            if holder is None or holder.id != account:
                return None
        return float("inf") if until is None else float(until)

    def check_banned(self, key: str, user: str, room: str) -> None:
        """Refuse user ``key`` (shown as ``user``) entry to ``room`` if banned."""
        until = self.ban_until(key, room)
        if until is None:
            return
        if until == float("inf"):
            raise ProtocolError(ErrorCode.BANNED, f"{user} is banned from room {room}")
        left = max(until - self.clock(), 0.0)
        raise ProtocolError(
            ErrorCode.BANNED,
            f"{user} is banned from room {room} for {duration_text(left)} more",
            retry_after=round(left, 3),
        )

    def topic(self, room: str) -> tuple[str, str | None, float | None, bool]:
        """``room``'s (topic, set by, set at, locked); ("", None, None, False) for a
        room without."""
        row = (
            self.store.reader()
            .execute("SELECT topic, topic_by, topic_ts, locked FROM room_meta WHERE room = ?",
                     (room,))
            .fetchone()
        )  # fmt: skip
        if row is None:
            return "", None, None, False
        return row[0], row[1], row[2], bool(row[3])

    def topics(self, rooms: Iterable[str]) -> dict[str, str]:
        """The topic of each room of ``rooms`` that has one (one query)."""
        names = list(rooms)
        if not names:
            return {}
        marks = ", ".join("?" * len(names))
        sql = f"SELECT room, topic FROM room_meta WHERE room IN ({marks}) AND topic != ''"
        return dict(self.store.reader().execute(sql, names).fetchall())

    def store_created(self, room: str, key: str, ts: float) -> None:
        """User ``key`` creates ``room`` (inside the join's atomic block): its
        creator and first operator."""
        db = self.store.writer()
        db.execute(
            "INSERT OR IGNORE INTO room_meta (room, creator, created) VALUES (?, ?, ?)",
            (room, key, ts),
        )
        db.execute("INSERT OR IGNORE INTO room_ops (room, user) VALUES (?, ?)", (room, key))


__all__ = ["RoomMeta"]
