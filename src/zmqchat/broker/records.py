"""What the broker keeps for users beyond room events, as nodes share it: the seam
of the engine (issue 17) for private history, mailboxes, file metadata, accounts,
and private rooms with their invitations (written by :mod:`.cluster.access`).

One broker (the SQLite engine) is the whole truth: its store numbers private
messages and files, and :class:`Records` here adds nothing. With the Redis engine
(:mod:`.cluster.records`) each such row also goes to a log in Redis that every node
follows into its own store, and its id comes from Redis, unique cluster-wide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from zmqchat.common.messages import Ref


class PmFields(NamedTuple):
    """A private message as the store keeps it, but for its id."""

    ts: float
    sender: str
    recipient: str
    text: str
    data: bytes | None
    sender_sid: int
    recipient_sid: int | None
    ref: Ref
    queued: bool = False


class Records:
    """Rows shared with other nodes: none with one broker."""

    shared = False  # whether other nodes keep what this one stores (the Redis engine)

    def __init__(self) -> None:
        # Called with each file id another node's record dropped from this store,
        # once it is gone (what a node keeps of finished files must go too).
        self.file_watchers: list[Callable[[int], object]] = []
        # Called with ("private", room, creator) or ("invite", room, user) for each
        # private room or invitation another node's record brought into this store.
        self.access_watchers: list[Callable[[str, str, str], object]] = []

    def pm(self, fields: PmFields) -> int | None:
        """Log a new private message for every node; returns its id, unique across
        nodes (None: the store's next). Raises ProtocolError (``store_unavailable``)
        when the engine can't take it: nothing was stored anywhere."""
        return None

    def drop_pm(self, pm_id: int) -> None:
        """Private message ``pm_id`` was taken back (never delivered): every node
        drops it too."""

    def pm_set(self, pm_id: int, changes: dict[str, Any]) -> None:
        """Private message ``pm_id`` was handed to its recipient, or queued again
        (``queued``, ``recipient_sid``): every node marks its copy."""

    def account(self, name: str, hashed: str, now: float) -> int | None:
        """Log a new account (a sign-up) for every node; returns its id, unique
        across nodes (0: the store's next), None if ``name`` has an account on some
        node. Raises ProtocolError (``store_unavailable``) when the engine can't
        take it."""
        return 0

    def file(self, row: dict[str, Any]) -> int | None:
        """Log a new file's row (``files``' columns but ``id``); returns its id, unique
        across nodes (None: the store's next)."""
        return None

    def file_update(self, file_id: int, changes: dict[str, Any]) -> None:
        """File ``file_id``'s row changed (renamed, finished, delivered): every node
        changes its copy."""

    def drop_file(self, file_id: int) -> None:
        """File ``file_id``'s row went (deleted, or its bytes did not match): every
        node drops its copy."""

    def store_failed(self) -> None:
        """A commit failed: what this node logged in the batch is in other nodes'
        stores, not in its own."""
