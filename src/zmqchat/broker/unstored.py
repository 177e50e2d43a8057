"""A store that can't be written (disk full, read-only, I/O error): which requests
would write, and what the replies of a batch whose commit failed become."""

from __future__ import annotations

from typing import Final

from zmqchat.broker.state import BrokerState
from zmqchat.common.codec import decode, encode
from zmqchat.common.files import FileChunk, FileOffer
from zmqchat.common.messages import ErrorReply
from zmqchat.common.moderation import Ban, Deop, Kick, Lock, Op, Topic, Unban, Unlock
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.common.requests import (
    Bye,
    Chat,
    Delete,
    Edit,
    Invite,
    Join,
    Leave,
    Pm,
    Register,
    Request,
)

STORE_UNAVAILABLE: Final = (
    "the broker's store can't be written now (see its log); nothing was stored; "
    "reading works, try writing again later"
)
# The requests whose handling writes to the store (besides a register that does not
# resume a session).
WRITES: Final = (
    Join, Leave, Chat, Pm, Invite, Edit, Delete, Bye,
    Op, Deop, Kick, Ban, Unban, Lock, Unlock,
)  # fmt: skip
WRITES_FILES: Final = (FileOffer, FileChunk)
# The replies that acknowledge a write.
WRITE_REPLIES: Final = frozenset(
    ("ack", "joined", "left", "invited", "bye", "topic", "moderated", "file_accept", "file_done")
)


def writes(request: Request, state: BrokerState) -> bool:
    """Whether handling ``request`` writes to the store (a resume does not)."""
    if isinstance(request, Register):
        held = state.by_token.get(request.resume) if request.resume else None
        return held is None or held.key != user_key(request.user)
    if isinstance(request, Topic):
        return request.text is not None  # reading it is not
    return isinstance(request, WRITES + WRITES_FILES)


def unstored(body: bytes) -> bytes:
    """What a reply of a batch whose commit failed becomes: an acknowledgement of a
    write turns into ``store_unavailable``; other replies stand."""
    msg = decode(body, None)
    kind = msg.get("type")
    if kind not in WRITE_REPLIES:
        return body
    if kind in ("topic", "moderated") and "seq" not in msg:
        return body  # read, or changed nothing
    return encode(
        ErrorReply(code=ErrorCode.STORE_UNAVAILABLE, message=STORE_UNAVAILABLE, ref=msg.get("ref"))
    )
