"""What other nodes tell this one, with the Redis engine (issue 17): a session of
ours was taken over, a private message to hand on, what became of one we handed
on, a node whose lease ran out. With one broker (the SQLite engine) nothing comes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from zmqchat.broker.membership import Membership
from zmqchat.broker.remote_pms import RemotePms
from zmqchat.broker.state import BrokerState, Session
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

# How long the node that ends a dead node's sessions holds the lock that keeps the
# others from doing it too: far longer than ending them takes.
REAP_LOCK_MS: Final = 60_000


class NodeMessages:
    """Acts on :meth:`Names.heard`'s messages, on the loop's thread."""

    def __init__(
        self,
        state: BrokerState,
        membership: Membership,
        remote_pms: RemotePms,
        forget: Callable[[Session, str], None],
        clock: Callable[[], float],
        files: Callable[[str, bytes], object] = lambda key, frame: None,
    ) -> None:
        """``files(key, frame)``: hand a private file's event to ``key``'s session."""
        self.files = files
        self.state = state
        self.membership = membership
        self.remote_pms = remote_pms
        self.forget = forget
        self.clock = clock

    def handle(self) -> None:
        for message in self.membership.names.heard():
            try:
                self._one(message[0], message[1:])
            except Exception:
                log.exception("could not act on a node's message %.60r", message)

    def _one(self, kind: str, args: list[Any]) -> None:
        if kind == "moved":
            session = self.state.by_token.get(args[0])
            if session is not None:
                log.info("%s resumed on another node", session.user)
                self.forget(session, "replaced")
        elif kind == "pm":
            self.remote_pms.hand_over(*args)
        elif kind == "file":
            self.files(args[0], args[1])
        elif kind == "pm_done":
            self.remote_pms.answered(args[0], bool(args[1]))
        elif kind == "dead":
            self._reap(args[0])
        elif kind == "lapsed":
            self._lapsed(set(args[0]))

    def _lapsed(self, held: set[str]) -> None:
        """This node's lease had run out (cluster/lease.py), and Redis now gives it
        only the sessions ``held``: another node ended the others (their leaves are
        published), or their clients resumed elsewhere. Their copies here end
        without a word to their rooms, and their connections are told ``closed``
        {reason: timeout}, so that their clients register again instead of talking
        through a session that no longer exists."""
        names = self.membership.names
        ended = 0
        for session in [s for s in self.state.by_token.values() if s.token not in held]:
            try:
                # A session claimed after the lease's look at Redis is held all the same.
                if names.holds(session.key, session.token):
                    continue
            except ProtocolError:
                log.error("Redis can't say whether %s's session is still held here; kept",
                          session.user)  # fmt: skip
                continue
            self.forget(session, "timeout")
            ended += 1
        log.warning("this node's lease had run out: ended %d of its sessions that Redis "
                    "no longer gives it (another node ended them)", ended)  # fmt: skip

    def _reap(self, dead: str) -> None:
        """Node ``dead``'s lease ran out: end its sessions (if no other node does
        first), one leave per room, reason ``timeout``."""
        ended = self.membership.names.reap(dead, REAP_LOCK_MS)
        if not ended:
            return
        ts = self.clock()
        for user, rooms in ended:
            for name in rooms:
                room = self.membership.room(name)
                self.membership.presence(room, user, "leave", ts, "timeout")
        log.warning("node %s is gone (its lease ran out): ended its %d session(s)",
                    dead, len(ended))  # fmt: skip
