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

# Where an outbox's lists end (see Outbox.mark).
Mark = tuple[int, int, int, int, int, int]


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
    # Whether its ack may wait a little for a commit shared with the pms after it
    # (the recipient is writing too: see Flush.flush).
    hold: bool = False


@dataclasses.dataclass(slots=True)
class Recheck:
    """Sessions and rooms whose subscriptions must be checked again: a session left
    a room or ended, a room became members-only. Nothing waits for the commit here:
    a check cuts a connection that may no longer read, and its subscriber asks again
    (a leave that fails to commit is then simply granted again)."""

    sessions: set[int] = dataclasses.field(default_factory=set)
    rooms: set[str] = dataclasses.field(default_factory=set)

    def session(self, session: Session) -> None:
        self.sessions.add(session.sid)

    def room(self, name: str) -> None:
        self.rooms.add(name)

    def clear(self) -> None:
        self.sessions.clear()
        self.rooms.clear()

    def __bool__(self) -> bool:
        return bool(self.sessions or self.rooms)


class Outbox:
    """Frames a batch of requests produced, by when they may leave.

    ``replies`` and ``publishes`` wait for the store's commit: an ack or a room event
    never leaves before what it reports is durable. ``pms`` go to their recipients at
    once and their senders' acks after the commit: the ack means stored and
    delivered, and the round trip of a conversation does not wait for the disk.
    ``now`` are replies that report nothing the commit makes true (a file chunk's
    ack: its bytes are in the part file, not in the store): they leave as soon as
    their request is handled, as pms do.
    """

    __slots__ = (
        "gated", "mail", "now", "pms", "publishes", "recheck", "relayed", "remote", "replies",
    )  # fmt: skip

    def __init__(self) -> None:
        self.pms: list[PmDelivery] = []
        self.now: list[tuple[bytes, bytes]] = []
        self.replies: list[tuple[bytes, bytes]] = []
        # Queued pms among the replies: (routing id, pm id, receiving session). Each
        # is marked delivered after the batch if every reply to its id was sent.
        self.mail: list[tuple[bytes, int, int]] = []
        self.publishes: list[tuple[bytes, bytes]] = []
        # Routing ids with a reply waiting for the commit: a pm to one of them must
        # wait too, or it would overtake, say, the recipient's welcome.
        self.gated: set[bytes] = set()
        # Who may read what changed: the sessions (by sid) and rooms whose readers
        # the PUB side checks again after the batch (see broker/grants.py).
        self.recheck: Recheck = Recheck()
        # With the Redis engine (remote_pms.py): pms for another node's session, sent
        # to it after the commit (node, user key, pm); and other nodes' pms to hand
        # to a connection here (routing id, frame, their node, pm id).
        self.remote: list[tuple[str, str, PmDelivery]] = []
        self.relayed: list[tuple[bytes | None, bytes, str, int]] = []

    def reply(self, rid: bytes, msg: Record | bytes) -> None:
        self.replies.append((rid, msg if isinstance(msg, bytes) else encode(msg)))
        self.gated.add(rid)

    def reply_to(self, session: Session, msg: Record | bytes) -> None:
        """Queue a reply to a registered session (its connection, if it has one)."""
        if session.rid is not None:
            self.reply(session.rid, msg)

    def reply_now(self, session: Session, msg: Record) -> None:
        """Queue a reply that waits for no commit, to leave as soon as its request is
        handled: a streaming transfer's next requests then go out while the batch
        goes on, instead of after its commit. Behind a reply that does wait (the
        same connection's), it waits too, so the two can't be reordered."""
        rid = session.rid
        if rid is None:
            return
        if rid in self.gated:
            self.reply(rid, msg)
        else:
            self.now.append((rid, encode(msg)))

    def mail_to(self, rid: bytes, event: Record, pm_id: int, sid: int) -> None:
        """Queue a pm from a mailbox to ``rid``, after what is queued to it so far."""
        self.reply(rid, event)
        self.mail.append((rid, pm_id, sid))

    def drop_to(self, rid: bytes) -> None:
        """Send nothing more of this batch to ``rid``: its connection closed, and
        whoever takes the id next must not get what was meant for the last holder.
        Its private messages become undelivered (their senders hear so)."""
        self.replies[:] = [(to, body) for to, body in self.replies if to != rid]
        self.now[:] = [(to, body) for to, body in self.now if to != rid]
        self.mail[:] = [entry for entry in self.mail if entry[0] != rid]
        for pm in self.pms:
            if pm.to == rid:
                pm.to = None
        # Another node's pms (hand_over) too: their nodes hear they were not.
        self.relayed[:] = [
            (None if to == rid else to, frame, origin, pm_id)
            for to, frame, origin, pm_id in self.relayed
        ]

    def publish(self, topic: bytes, msg: Record) -> None:
        self.publishes.append((topic, encode(msg)))

    def mark(self) -> Mark:
        """Where the lists end now, to :meth:`truncate` back to if a request fails."""
        return (
            len(self.pms), len(self.replies), len(self.publishes), len(self.mail),
            len(self.remote), len(self.now),
        )  # fmt: skip

    def truncate(self, mark: Mark) -> None:
        del self.pms[mark[0] :]
        del self.replies[mark[1] :]
        del self.publishes[mark[2] :]
        del self.mail[mark[3] :]
        del self.remote[mark[4] :]
        del self.now[mark[5] :]

    def clear(self) -> None:
        self.recheck.clear()
        self.mail.clear()
        self.pms.clear()
        self.now.clear()
        self.replies.clear()
        self.publishes.clear()
        self.gated.clear()
        self.remote.clear()
        self.relayed.clear()

    def __bool__(self) -> bool:
        return bool(
            self.pms or self.now or self.replies or self.publishes or self.remote or self.relayed
        )
