"""Private files between nodes (the Redis engine, issue 17): a file for a user whose
session another node holds is announced to them through that node.

The file itself needs nothing more: its row reaches every node's store through the
cluster's records, and its bytes are in the files folder every node mounts, so the
recipient fetches it by id from the node they are on.
"""

from __future__ import annotations

import contextlib

from zmqchat.broker.names import Names
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState
from zmqchat.common.codec import encode
from zmqchat.common.files import PrivateFileEvent
from zmqchat.common.protocol import user_key
from zmqchat.errors import ProtocolError


class RemoteFiles:
    """Hands private files' events to other nodes' sessions, and theirs to this one's."""

    def __init__(self, state: BrokerState, out: Outbox, names: Names) -> None:
        self.state = state
        self.out = out
        self.names = names

    def hand_over(self, recipient: str, push: PrivateFileEvent) -> bool:
        """Have the node holding ``recipient``'s session hand them ``push``; False if
        no other node holds it, or the engine can't be reached (the file waits, as
        for a recipient offline, and is theirs to fetch by id)."""
        key = user_key(recipient)
        held = self.names.where(key)
        if held is None:
            return False
        with contextlib.suppress(ProtocolError):
            self.names.tell(held[0], ["file", key, encode(push)])
            return True
        return False

    def handed_over(self, key: str, frame: bytes) -> None:
        """Another node's private file event for ``key``: to its connection here."""
        target = self.state.by_key.get(key)
        if target is not None:
            self.out.reply_to(target, frame)
