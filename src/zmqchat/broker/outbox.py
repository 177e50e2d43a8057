"""What a batch of requests sends, and when each frame may leave.

The handlers queue encoded frames in an :class:`Outbox`; the server commits the
store and only then sends what waits for the commit, so nothing is acknowledged or
published before it is durable.
"""

from __future__ import annotations

import dataclasses

from zmqchat.broker.state import Session
from zmqchat.common.codec import encode
from zmqchat.common.messages import Record, Ref


@dataclasses.dataclass(slots=True)
class PmDelivery:
    """A private message on its way, and what its sender hears once it is stored: the
    ``ack``, or an error if the recipient turns out to be unreachable."""

    to: bytes | None  # the recipient's routing id; None once it no longer reaches them
    frame: bytes
    sender: Session
    ack: bytes
    pm_id: int
    to_user: str
    ref: Ref


class Outbox:
    """Frames a batch of requests produced, by when they may leave.

    ``replies`` and ``publishes`` wait for the store's commit: an ack or a room event
    never leaves before what it reports is durable. ``pms`` go to their recipients at
    once and their senders' acks after the commit: the ack means stored and
    delivered, and the round trip of a conversation does not wait for the disk.
    """

    __slots__ = ("gated", "pms", "publishes", "replies")

    def __init__(self) -> None:
        self.pms: list[PmDelivery] = []
        self.replies: list[tuple[bytes, bytes]] = []
        self.publishes: list[tuple[bytes, bytes]] = []
        # Routing ids with a reply waiting for the commit: a pm to one of them must
        # wait too, or it would overtake, say, the recipient's welcome.
        self.gated: set[bytes] = set()

    def reply(self, rid: bytes, msg: Record | bytes) -> None:
        self.replies.append((rid, msg if isinstance(msg, bytes) else encode(msg)))
        self.gated.add(rid)

    def reply_to(self, session: Session, msg: Record | bytes) -> None:
        """Queue a reply to a registered session (its connection, if it has one)."""
        if session.rid is not None:
            self.reply(session.rid, msg)

    def drop_to(self, rid: bytes) -> None:
        """Send nothing more of this batch to ``rid``: its connection closed, and
        whoever takes the id next must not get what was meant for the last holder.
        Its private messages become undelivered (their senders hear so)."""
        self.replies[:] = [(to, body) for to, body in self.replies if to != rid]
        for pm in self.pms:
            if pm.to == rid:
                pm.to = None

    def publish(self, topic: bytes, msg: Record) -> None:
        self.publishes.append((topic, encode(msg)))

    def mark(self) -> tuple[int, int, int]:
        """Where the lists end now, to :meth:`truncate` back to if a request fails."""
        return len(self.pms), len(self.replies), len(self.publishes)

    def truncate(self, mark: tuple[int, int, int]) -> None:
        del self.pms[mark[0] :]
        del self.replies[mark[1] :]
        del self.publishes[mark[2] :]

    def clear(self) -> None:
        self.pms.clear()
        self.replies.clear()
        self.publishes.clear()
        self.gated.clear()

    def __bool__(self) -> bool:
        return bool(self.pms or self.replies or self.publishes)
