"""Sending what one turn of the broker's loop produced: replies, forwarded private
messages, acks and room events, each after the commit that makes it true."""

from __future__ import annotations

import time
from typing import Final

import zmq

from zmqchat.broker.commits import Commits
from zmqchat.broker.grants import Gate
from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.peers import raw_send
from zmqchat.broker.replies import Replies
from zmqchat.broker.state import Session

# Flags as plain ints: or-ing the IntFlag members builds an enum on every send.
_SNDMORE: Final = int(zmq.SNDMORE)
# The longest a write that nothing waits for stays uncommitted (see Flush.flush).
LAZY_COMMIT: Final = 0.05
# The longest the acks of pms between users in a conversation wait for a commit
# shared with the pms that follow (see Flush.flush).
PM_GROUP_COMMIT: Final = 0.001


class Flush:
    """Commits a turn's writes and sends its output, in the order that keeps every
    acknowledgement true; remembers when writes that nothing waits for are due."""

    def __init__(self, commits: Commits, pub: zmq.Socket[bytes], link: Replies, gate: Gate) -> None:
        self.commits, self.pub, self.link, self.gate = commits, pub, link, gate
        self.commit_due: float | None = None  # when lazily held writes must commit
        # What the senders of the private messages forwarded so far hear after the
        # commit: (sender's routing id, ack or error).
        self._answers: list[tuple[bytes | None, bytes]] = []
        self._holding: list[Session] = []  # the senders of those pms (Session.ack_held)
        self._may_hold = True  # whether every answer may wait (PmDelivery.hold)

    @property
    def answers(self) -> bool:
        """Whether forwarded private messages wait for their senders' answers (an
        undeliverable one may have left nothing else to flush: no row, no reply)."""
        return bool(self._answers)

    def forward(self, core: BrokerCore) -> None:
        """Hand the private messages handled so far to their recipients. The loop
        calls it as soon as a request queued one, so that the recipient's copy does
        not wait for the rest of the batch, the expiry checks or the commit: it is
        on the conversation's round trip, which nothing else of the turn is.
        Replies that wait for no commit (``Outbox.now``) leave here too."""
        out = core.out
        send, answers = self.link.send, self._answers
        if out.now:
            for rid, body in out.now:
                send(rid, body)
            out.now.clear()
        for pm in out.pms:
            if send(pm.to, pm.frame):
                answers.append((pm.sender.rid, pm.ack))
                pm.sender.ack_held = True
                self._holding.append(pm.sender)
                self._may_hold = self._may_hold and pm.hold
            else:
                answers.append((pm.sender.rid, core.undelivered(pm)))
                self._may_hold = False
        out.pms.clear()

    def _take_answers(self) -> list[tuple[bytes | None, bytes]]:
        """The answers to send after this turn's commit; no ack is held any more."""
        answers, self._answers = self._answers, []
        self._may_hold = True
        for sender in self._holding:
            sender.ack_held = False
        self._holding.clear()
        return answers

    def flush(self, core: BrokerCore, now: float | None = None) -> None:
        """Send what a batch produced, committing what it wrote first where needed.

        Private messages go to their recipients at once, so a conversation's round
        trip does not wait for the disk; their senders' acks wait for the commit, as
        every reply and room event does (one commit per batch: group commit). So an
        acknowledged chat or pm survives a crash. A pm whose recipient can't be
        reached gets its sender an error instead, and is not stored. Writes that
        nothing waits for are committed within LAZY_COMMIT seconds; the acks of pms
        whose recipients are sending pms too wait for the recipient's answer, at
        most PM_GROUP_COMMIT seconds (Relay.pm: the answer itself is not held).

        When the commit fails (disk full, read-only, I/O error), nothing the batch
        wrote is acknowledged: each write is answered ``store_unavailable``, its
        room events are dropped, and the broker carries on from what the store holds.
        """
        core.events.sequence()  # an engine's numbering: refusals join the replies
        out, commits = core.out, self.commits
        store = commits.store
        pub, link = self.pub, self.link
        send = link.send
        if out.pms or out.now:
            self.forward(core)
        if self._answers and not out and now is not None and self._may_hold:
            # Only acks of pms wait, and their recipients are writing too: their
            # answers, a fraction of a millisecond away, share the commit. A commit
            # per pm cost 40 us of the loop (a pm round trip's two took 20% of the
            # broker's time) and fell on the conversation's round trip. An answer
            # is never held, so a sender that waits for its ack before writing
            # again waits for no more than its correspondent's answer.
            if self.commit_due is None or self.commit_due > now + PM_GROUP_COMMIT:
                self.commit_due = now + PM_GROUP_COMMIT
            if now < self.commit_due:
                return
        answers = self._take_answers()
        committed = True
        if out or answers or now is None:
            committed = commits.commit(now)
        elif store.dirty:
            if self.commit_due is None:
                self.commit_due = now + LAZY_COMMIT
            elif now >= self.commit_due:
                committed = commits.commit(now)
        if not store.dirty:
            self.commit_due = None
        replies, publishes = out.replies, out.publishes
        if not committed:
            refuse = core.unstored
            replies = [(rid, refuse(body)) for rid, body in replies]
            answers = [(rid, refuse(body)) for rid, body in answers]
            publishes = []
            core.store_failed(time.monotonic())
        failed: set[bytes | None] = set()
        for rid, body in replies:
            if not send(rid, body):
                failed.add(rid)
        if out.mail and committed:
            # A queued pm is delivered once ZeroMQ took it, and everything before it
            # for the same connection; the rest wait for the next login.
            core.mail_sent([(pm, sid) for rid, pm, sid in out.mail if rid not in failed])
            if now is not None and self.commit_due is None:
                self.commit_due = now + LAZY_COMMIT  # the marks, lazily
        for sender, body in answers:
            send(sender, body)
        if out.remote or out.relayed:  # the Redis engine's pms between nodes
            core.remote_pms.relay(send)
            core.remote_pms.flushed(committed, time.monotonic())
            for rid, body in out.replies[len(replies) :]:  # refusals of unstored pms
                send(rid, body)
        if out.recheck:
            # Before the batch's events: a connection cut now gets none of them (a
            # shut-down socket takes no more writes), so a member who left, or a
            # reader of a room made private, misses even the events of its batch.
            self.gate.recheck(out.recheck)
        for topic, body in publishes:
            raw_send(pub, topic, _SNDMORE)
            raw_send(pub, body, 0)
        out.clear()
        if link.stalled:
            link.close_stalled(core.state)
