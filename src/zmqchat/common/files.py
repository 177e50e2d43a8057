"""The records of file transfers, additive to protocol v1 (docs/protocol.md §2.16).

An upload is offered (``file_offer``: name, size, sha256, to a room or a user) and
answered before any byte moves: ``file_accept`` (an id, the offset to start from,
the credit window and chunk size), ``file_done`` at once when the broker already
holds that content, or an error saying why not. The uploader then sends
``file_chunk`` requests, never more than ``window`` unanswered: each ``file_ack``
returns one credit. The last chunk is answered ``file_done`` once the broker has
checked the hash and published the ``file`` event. A download pulls ranges with
``file_get``, each answered ``file_data``, with a window of the client's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from zmqchat.common.protocol import (
    MAX_INT,
    ErrorCode,
    canonical_room,
    check_name,
    optional,
    require,
)
from zmqchat.common.records import Record, Ref, keyword_only, record
from zmqchat.errors import ProtocolError

# Data bytes in one chunk: a 64 KiB frame keeps 4 KiB for the envelope (type, id,
# offset, ref, and a file_data's name of up to MAX_FILE_NAME_BYTES).
CHUNK_BYTES: Final = 60 * 1024
# Chunks in flight per transfer, in both directions: the broker holds at most this
# many frames of one upload in its queues, and writes each one as it arrives.
WINDOW: Final = 8
MAX_FILE_NAME_BYTES: Final = 255
_SHA256: Final = re.compile(r"[0-9a-f]{64}")

# ---------------------------------------------------------------------- requests


@record("file_offer")
class FileOffer(Record):
    """Upload ``size`` bytes of content ``sha256`` as ``name``, to ``room`` or
    ``to`` (a user): exactly one of the two."""

    name: str
    size: int
    sha256: str
    room: str | None = None
    to: str | None = None
    ref: Ref = None


@record("file_chunk")
class FileChunk(Record):
    """``data`` of upload ``id`` from ``offset`` on (the offset the broker holds)."""

    id: int
    offset: int
    data: bytes
    ref: Ref = None


@record("file_get")
class FileGet(Record):
    """Up to ``size`` bytes (at most CHUNK_BYTES) of file ``id`` from ``offset``."""

    id: int
    offset: int
    size: int = CHUNK_BYTES
    ref: Ref = None


# ----------------------------------------------------------------------- replies


@record("file_accept")
class FileAccept(Record):
    """An offer accepted: send chunks of upload ``id`` from ``offset`` (0, or what a
    resumed upload holds), at most ``window`` unanswered, each at most ``chunk``."""

    id: int
    offset: int
    window: int
    chunk: int
    ref: Ref = None


@record("file_ack")
class FileAck(Record):
    """A chunk written: the upload now holds ``offset`` bytes."""

    id: int
    offset: int
    ref: Ref = None


@record("file_done")
class FileDone(Record):
    """The upload is complete and checked: ``room``'s event ``seq``, or the private
    transfer to ``to`` with ``status`` delivered (online) or stored."""

    id: int
    sha256: str
    size: int
    room: str | None = None
    seq: int | None = None
    to: str | None = None
    status: str | None = None
    ref: Ref = None


@record("file_data")
class FileData(Record):
    """Bytes of file ``id`` from ``offset``; ``eof`` when they reach its end. Every
    answer names the file, so a download resumed at any offset can check it."""

    id: int
    offset: int
    data: bytes
    eof: bool
    name: str
    size: int
    sha256: str
    ref: Ref = None


# ------------------------------------------------------------------------ events


@record("file", sender="from")
class FileEvent(Record):
    """A file sent to a room: a room event with the room's next seq, kept in its
    history like a chat."""

    room: str
    seq: int
    sender: str
    name: str
    size: int
    sha256: str
    id: int
    ts: float = keyword_only()


@record("file", sender="from")
class PrivateFileEvent(Record):
    """A file sent to one user, pushed to them over ROUTER as a pm is."""

    id: int
    sender: str
    to: str
    name: str
    size: int
    sha256: str
    ts: float = keyword_only()


# ------------------------------------------------------------------------ parsing


def human_size(size: int) -> str:
    """``size`` bytes for people: 512 B, 3.4 KiB, 12.0 MiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("not reached")


def check_file_name(name: object) -> str:
    """A file's name as shown to others: 1..255 UTF-8 bytes, no path separators or
    control characters (whoever saves it still picks the path)."""
    if not isinstance(name, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'name' must be a string")
    if not name or len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"'name' must be 1 to {MAX_FILE_NAME_BYTES} UTF-8 bytes"
        )
    if name in (".", "..") or any(c in "/\\" or ord(c) < 32 or c == "\x7f" for c in name):
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, "'name' is a file name: no '/', '\\' or control characters"
        )
    return name


def _count(msg: dict[str, Any], key: str) -> int:
    value: int = require(msg, key, int, "an integer")
    if isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'{key}' must be an integer >= 0")
    return value


def _parse_offer(msg: dict[str, Any], ref: Ref) -> FileOffer:
    room, to = msg.get("room"), msg.get("to")
    if (room is None) == (to is None):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "file_offer needs exactly one of 'room' or 'to'")
    sha256 = require(msg, "sha256", str, "a string")
    if not _SHA256.fullmatch(sha256):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'sha256' must be 64 lower-case hex digits")
    return FileOffer(
        name=check_file_name(msg.get("name")),
        size=_count(msg, "size"),
        sha256=sha256,
        room=None if room is None else canonical_room(room),
        to=None if to is None else check_name(to, "user name"),
        ref=ref,
    )


def _parse_chunk(msg: dict[str, Any], ref: Ref) -> FileChunk:
    data = require(msg, "data", bytes, "bytes (msgpack bin)")
    if not data:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'data' is empty")
    if len(data) > CHUNK_BYTES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'data' is over {CHUNK_BYTES} bytes")
    return FileChunk(id=_count(msg, "id"), offset=_count(msg, "offset"), data=data, ref=ref)


def _parse_get(msg: dict[str, Any], ref: Ref) -> FileGet:
    size = optional(msg, "size", int, "an integer")
    if size is None:
        size = CHUNK_BYTES
    elif isinstance(size, bool) or not 1 <= size <= CHUNK_BYTES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'size' must be 1..{CHUNK_BYTES}")
    return FileGet(id=_count(msg, "id"), offset=_count(msg, "offset"), size=size, ref=ref)


FileRequest = FileOffer | FileChunk | FileGet

REQUEST_PARSERS: Final[dict[str, Callable[[dict[str, Any], Ref], FileRequest]]] = {
    "file_offer": _parse_offer,
    "file_chunk": _parse_chunk,
    "file_get": _parse_get,
}

__all__ = [
    "CHUNK_BYTES",
    "MAX_FILE_NAME_BYTES",
    "REQUEST_PARSERS",
    "WINDOW",
    "FileAccept",
    "FileAck",
    "FileChunk",
    "FileData",
    "FileDone",
    "FileEvent",
    "FileGet",
    "FileOffer",
    "FileRequest",
    "PrivateFileEvent",
    "check_file_name",
    "human_size",
]
