"""Wire protocol v1: version, limits, error codes, name/text/data validation, topics.

Pure functions over str, bytes and dicts; no sockets. The message records built on
these rules live in :mod:`zmqchat.common.requests` and
:mod:`zmqchat.common.messages`; the msgpack codec in
:mod:`zmqchat.common.codec`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from enum import StrEnum
from typing import Any, Final

import msgpack

from zmqchat.errors import ProtocolError

PROTOCOL_VERSION: Final = 1

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 5555
DEFAULT_PUB_PORT: Final = 5556

MAX_NAME_CHARS: Final = 32
MAX_TEXT_BYTES: Final = 4096
MAX_DATA_BYTES: Final = 16 * 1024
# Nesting allowed in `data`: a stored event sits two levels deeper inside a history
# page, and msgpack refuses to encode past 1024 levels.
MAX_DATA_DEPTH: Final = 32
MAX_FRAME_BYTES: Final = 64 * 1024
# No valid request is larger: a chat or pm with 4 KiB of text, 16 KiB of data, a
# name and a ref is under 21 KiB, a register with 100 rooms and the longest password
# under 9 KiB. A larger one is `too_long` unread: decoding 60 KiB of hostile msgpack
# (a map of 9,000 keys) takes milliseconds (protocol.md §7 item 68).
MAX_REQUEST_BYTES: Final = 24 * 1024
MAX_REF_CHARS: Final = 64
MAX_CLIENT_CHARS: Final = 128
# Rooms one `register` may join: each costs the broker a presence event and a write,
# and thousands in one request would stall everyone else for a noticeable time.
MAX_REGISTER_ROOMS: Final = 100
# Integers the store can hold (SQLite INTEGER is signed 64-bit).
MIN_INT: Final = -(2**63)
MAX_INT: Final = 2**63 - 1
# A `register`'s password: longer is `bad_request` (hashing cost is the broker's).
MAX_PASSWORD_CHARS: Final = 1024
HISTORY_DEFAULT_LIMIT: Final = 50
HISTORY_MAX_LIMIT: Final = 500
# `who` and `rooms` are paged (additive to v1): names after `after`, `limit` at most.
LIST_DEFAULT_LIMIT: Final = 500
LIST_MAX_LIMIT: Final = 1000
# A room's topic, and the reason given with a kick or a ban (additive to v1): one
# line in a header or a toolbar, so far shorter than a message.
MAX_TOPIC_BYTES: Final = 512
# The longest ban a `ban` request may ask for (ten years, in seconds); longer is
# `bad_request`: leave `duration` out for a ban without end.
MAX_BAN_SECONDS: Final = 10 * 365 * 24 * 3600.0
DEFAULT_ROOMS: Final = ("general",)

# Broker -> client frames other than history pages are not capped by the protocol
# (a `users` list grows with the number of users); history pages are cut to fit this.
MAX_HISTORY_REPLY_BYTES: Final = MAX_FRAME_BYTES - 1024

SYSTEM_TOPIC: Final = b"\x00"

_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


class ErrorCode(StrEnum):
    """Every ``code`` an ``error`` reply can carry."""

    BAD_REQUEST = "bad_request"
    INVALID_NAME = "invalid_name"
    NAME_TAKEN = "name_taken"
    AUTH_FAILED = "auth_failed"
    UNSUPPORTED_PROTO = "unsupported_proto"
    ALREADY_REGISTERED = "already_registered"
    NOT_REGISTERED = "not_registered"
    NOT_IN_ROOM = "not_in_room"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    RATE_LIMITED = "rate_limited"
    NO_SUCH_USER = "no_such_user"
    USER_OFFLINE = "user_offline"
    SERVER_BUSY = "server_busy"
    # Additive to v1: the broker's store can't be written (disk full, read-only).
    STORE_UNAVAILABLE = "store_unavailable"
    # Additive: a password over plaintext from a non-loopback address (docs/security.md).
    ENCRYPTION_REQUIRED = "encryption_required"
    # Additive to v1: an offline account holder's mailbox holds `mailbox_limit` pms.
    MAILBOX_FULL = "mailbox_full"
    # Additive to v1: `join` of a private room by someone neither invited nor its creator.
    NOT_INVITED = "not_invited"
    # Additive to v1: `invite` by a member of a private room who is not its operator.
    NOT_OPERATOR = "not_operator"
    # Additive to v1: `history` with `external` of a room that does not exist (reading
    # a room never creates it).
    NO_SUCH_ROOM = "no_such_room"
    # Additive to v1: `edit`/`delete` of a message that is not the caller's, past
    # `edit_window`, or that is not a chat of that room (protocol.md §2.16).
    NOT_YOURS = "not_yours"
    TOO_LATE = "too_late"
    NO_SUCH_MESSAGE = "no_such_message"
    # Additive to v1: a user an operator banned from the room asks to join it, post
    # to it or read it from outside, or to see or set its topic.
    BANNED = "banned"
    # Additive to v1, file transfers (protocol.md §2.16): an offer refused before a
    # byte is sent, a file id unknown or not yours to fetch, content that did not
    # match the sha256 it was offered with.
    TOO_LARGE = "too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    DISK_FULL = "disk_full"
    NO_SUCH_FILE = "no_such_file"
    HASH_MISMATCH = "hash_mismatch"


def is_valid_name(name: object) -> bool:
    """True when ``name`` is a valid user or room name (``^[A-Za-z0-9_-]{1,32}$``)."""
    return isinstance(name, str) and _NAME_RE.fullmatch(name) is not None


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it is a valid user/room name, else raise ``invalid_name``.

    A value that is not a str at all is a ``bad_request`` (wrong-typed field), so a
    client can tell a typo in a name from a broken encoder.
    """
    if not isinstance(name, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'{what}' must be a string")
    if _NAME_RE.fullmatch(name) is None:
        raise ProtocolError(
            ErrorCode.INVALID_NAME,
            f"invalid {what} {name[:40]!r}: use 1-32 letters, digits, '_' or '-'",
        )
    return name


def canonical_room(name: object, what: str = "room") -> str:
    """Validate a room name and return its canonical (lower-case) form."""
    return check_name(name, what).lower()


def user_key(name: str) -> str:
    """The case-insensitive identity of a user name."""
    return name.lower()


def check_text(text: object) -> str:
    """Validate a message text: a non-blank str of at most 4096 UTF-8 bytes."""
    if not isinstance(text, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'text' must be a string")
    # A str of n code points encodes to at most 4n bytes, so short texts skip encoding.
    if len(text) * 4 > MAX_TEXT_BYTES:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            # msgpack decodes strictly, so only a caller bypassing the codec gets here.
            raise ProtocolError(ErrorCode.BAD_REQUEST, "'text' is not valid UTF-8") from None
        if size > MAX_TEXT_BYTES:
            raise ProtocolError(
                ErrorCode.TOO_LONG,
                f"text is {size} bytes; the limit is {MAX_TEXT_BYTES} UTF-8 bytes",
            )
    if not text or text.isspace():
        raise ProtocolError(ErrorCode.EMPTY, "text is empty")
    return text


def check_short_text(text: object, key: str, *, allow_empty: bool = False) -> str:
    """Validate a topic or a reason: a str of at most MAX_TOPIC_BYTES UTF-8 bytes,
    not blank (unless ``allow_empty`` and exactly ``""``: a topic cleared)."""
    if not isinstance(text, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'{key}' must be a string")
    if len(text) * 4 > MAX_TOPIC_BYTES:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TOPIC_BYTES:
            raise ProtocolError(
                ErrorCode.TOO_LONG,
                f"{key} is {size} bytes; the limit is {MAX_TOPIC_BYTES} UTF-8 bytes",
            )
    if text == "" and allow_empty:
        return text
    if not text or text.isspace():
        raise ProtocolError(ErrorCode.EMPTY, f"{key} is empty")
    return text


def check_data(data: object) -> bytes | None:
    """Validate the optional ``data`` map; return its msgpack encoding (or None).

    The encoding is returned because the broker stores it as is, so measuring the
    size costs nothing extra.
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'data' must be a map")
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    if len(packed) > MAX_DATA_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LONG,
            f"data is {len(packed)} bytes encoded; the limit is {MAX_DATA_BYTES}",
        )
    _check_data_shape(data)
    return packed


# What a map or an array may hold without being looked into (msgpack's own types).
_LEAVES: Final = frozenset({str, int, float, bool, bytes, type(None)})
_STR: Final = frozenset({str})
_NESTED: Final = (dict, list)
# Past this many items a container's types are read in one pass (set(map(type, ...)),
# in C) before any item is looked at one by one.
_SCAN_PAST: Final = 8


def _check_data_shape(data: dict[str, Any]) -> None:
    """Maps with str keys (as DESIGN.md requires), nested at most MAX_DATA_DEPTH."""
    # A check per item cost 0.2 us (a 2,000-key map 0.41 ms, half of what the broker
    # spent on such a chat, which a bot or a fuzzer may send at its rate limit); the
    # one-pass type scans bring that to 0.06 us.
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DATA_DEPTH:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"'data' is nested deeper than {MAX_DATA_DEPTH} levels"
            )
        items: Collection[object]
        if isinstance(value, dict):
            if len(value) <= _SCAN_PAST or not set(map(type, value)) <= _STR:
                for key in value:
                    if not isinstance(key, str):
                        raise ProtocolError(
                            ErrorCode.BAD_REQUEST, "'data' map keys must be strings"
                        )
            items = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        if len(items) > _SCAN_PAST and set(map(type, items)) <= _LEAVES:
            continue
        for item in items:
            if isinstance(item, _NESTED):
                stack.append((item, depth + 1))


def check_ref(ref: object) -> int | str | None:
    """Validate a client correlation id: nil, an int, or a str of at most 64 chars."""
    if (
        ref is None
        or (type(ref) is int and MIN_INT <= ref <= MAX_INT)
        or (isinstance(ref, str) and len(ref) <= MAX_REF_CHARS)
    ):
        return ref
    raise ProtocolError(
        ErrorCode.BAD_REQUEST,
        f"'ref' must be a 64-bit signed int or a string of at most {MAX_REF_CHARS} characters",
    )


def room_topic(room: str) -> bytes:
    """The PUB topic of a canonical room name: its UTF-8 bytes and one zero byte."""
    return room.encode() + b"\x00"


# What a room's topic can be (a canonical name, lower-case, and its zero byte), and
# the start of one: a subscription to anything else can match no event.
_TOPIC_RE: Final = re.compile(rb"[a-z0-9_-]{1,32}\x00")
_PREFIX_RE: Final = re.compile(rb"[a-z0-9_-]{0,32}")


def is_room_topic(topic: bytes) -> bool:
    """True when ``topic`` is a room's topic (:func:`room_topic` of a canonical name)."""
    return _TOPIC_RE.fullmatch(topic) is not None


def is_topic_prefix(prefix: bytes) -> bool:
    """True when ``prefix`` (no zero byte) may begin a room's topic; ``b""`` does."""
    return _PREFIX_RE.fullmatch(prefix) is not None


def topic_room(topic: bytes) -> str | None:
    """The room a topic belongs to, or None for the broker-wide topic."""
    if topic == SYSTEM_TOPIC:
        return None
    return topic[:-1].decode()


def subscription(topic: bytes, ticket: str | None) -> bytes:
    """What a subscriber asks the PUB side for: a topic, followed by the session's
    ``ticket`` (from its welcome) when the room is members-only or may become so.

    The broker grants the topic itself to the connection that asked, once the ticket
    shows a member asked (docs/protocol.md, "Subscriptions"). A plain topic is a
    protocol v1 subscription, granted only for public rooms in ``open`` mode.
    """
    if ticket is None or topic == SYSTEM_TOPIC:
        return topic
    return topic + ticket.encode("ascii")


def parse_subscription(request: bytes) -> tuple[bytes, bytes | None]:
    """A subscription request -> (what it asks for, the ticket if it carries one).

    What it asks for is a room's topic when ``request`` holds a zero byte (with the
    ticket after it, if any); else it is a bare prefix (``b""`` is every topic), which
    carries no ticket.
    """
    end = request.find(b"\x00")
    if end < 0:
        return request, None
    topic, ticket = request[: end + 1], request[end + 1 :]
    return topic, ticket or None


def require(msg: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """Fetch a required field of the given type, or raise ``bad_request``."""
    value = msg.get(key)
    if value is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"missing field '{key}'")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'{key}' must be {what}")
    return value


def optional(msg: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """Fetch an optional field (nil or absent means None) of the given type."""
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'{key}' must be {what}")
    return value


def pm_key(sender_sid: int, ref: int | str) -> str:
    """The ``key`` of a private message: its sender's session and request ``ref``,
    which a retry keeps even when a crash made the broker forget the first copy."""
    digest = hashlib.blake2b(f"{sender_sid}\0{ref!r}".encode(), digest_size=8)
    return digest.hexdigest()
