"""Private messages between nodes (the Redis engine, issue 17): a pm to a user whose
session another node holds is stored here, handed to that node once committed, and
acknowledged ``delivered`` only when that node says its client's connection took it.

The sender's node keeps each pm it handed on until the answer comes; one that gets
no answer within :data:`ANSWER_WAIT` (the other node died) is treated like a pm
whose recipient could not be reached here (:meth:`Relay.undelivered`): queued for an
account holder, otherwise taken back with an error to its sender.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Final

from zmqchat.broker.names import Names
from zmqchat.broker.outbox import Outbox, PmDelivery
from zmqchat.broker.state import BrokerState
from zmqchat.common.messages import ErrorReply
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

ANSWER_WAIT: Final = 5.0  # seconds a node waits for another to say a pm was handed over
_UNSTORED: Final = "the broker's store can't be written now; the message was not sent"


@dataclasses.dataclass(slots=True)
class _Sent:
    pm: PmDelivery
    deadline: float


class RemotePms:
    """The pms this node handed to others, and those others handed to it."""

    def __init__(
        self,
        names: Names,
        out: Outbox,
        state: BrokerState,
        undelivered: Callable[[PmDelivery], bytes],
    ) -> None:
        self.names = names
        self.out = out
        self.state = state
        self.undelivered = undelivered
        self._sent: dict[int, _Sent] = {}

    def flushed(self, committed: bool, now: float) -> None:
        """The batch's commit went through (or not): hand its pms to their nodes (or
        tell their senders nothing was sent)."""
        for node, key, pm in self.out.remote:
            if not committed:
                if pm.sender.rid is not None:
                    error = ErrorReply(code=ErrorCode.STORE_UNAVAILABLE, message=_UNSTORED,
                                       ref=pm.ref)  # fmt: skip
                    self.out.reply(pm.sender.rid, error)
                continue
            self._sent[pm.pm_id] = _Sent(pm, now + ANSWER_WAIT)
            try:
                self.names.tell(node, ["pm", self.names.node, pm.pm_id, key, pm.frame])
            except ProtocolError:  # the engine can't be reached: it was not handed on
                self.answered(pm.pm_id, delivered=False)
        self.out.remote.clear()

    def hand_over(self, origin: str, pm_id: int, key: str, frame: bytes) -> None:
        """Another node's pm for ``key``: to its session's connection, if it has one
        here (the answer goes back once it was sent, see :meth:`relay`)."""
        session = self.state.by_key.get(key)
        if session is None or session.rid is None:
            self.names.tell(origin, ["pm_done", pm_id, False])
            return
        self.out.relayed.append((session.rid, frame, origin, pm_id))

    def relay(self, send: Callable[[bytes | None, bytes], bool]) -> None:
        """Send the pms other nodes handed over, and tell each what became of it."""
        for rid, frame, origin, pm_id in self.out.relayed:
            delivered = send(rid, frame)
            with contextlib.suppress(ProtocolError):  # unheard, the sender's node gives up
                self.names.tell(origin, ["pm_done", pm_id, delivered])
        self.out.relayed.clear()

    def answered(self, pm_id: int, delivered: bool) -> None:
        """What became of a pm this node handed on: its sender hears now."""
        sent = self._sent.pop(pm_id, None)
        if sent is None:
            return  # answered late: it was settled when its wait ran out
        self._settle(sent.pm, delivered)

    def expire(self, now: float) -> None:
        """Settle the pms whose node never answered."""
        late = [pm_id for pm_id, sent in self._sent.items() if sent.deadline <= now]
        for pm_id in late:
            sent = self._sent.pop(pm_id)
            log.warning("no node answered for pm %d to %s", pm_id, sent.pm.to_user)
            self._settle(sent.pm, delivered=False)

    def next_deadline(self) -> float | None:
        return min((sent.deadline for sent in self._sent.values()), default=None)

    def _settle(self, pm: PmDelivery, delivered: bool) -> None:
        if pm.sender.rid is None:
            return  # its sender is gone: a retry after its resume is answered again
        self.out.reply(pm.sender.rid, pm.ack if delivered else self.undelivered(pm))
