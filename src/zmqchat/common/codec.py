"""msgpack <-> maps and records; every decode failure becomes one :class:`DecodeError`.

Frames are msgpack maps with str keys, packed with ``use_bin_type=True`` and unpacked
with ``raw=False`` under explicit size limits. Nothing here ever uses pickle or eval.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from zmqchat.common.messages import BrokerMessage, Record, Ref
from zmqchat.common.parsing import parse_message, parse_request, request_ref
from zmqchat.common.protocol import MAX_FRAME_BYTES, MAX_REQUEST_BYTES
from zmqchat.common.requests import Request
from zmqchat.errors import DecodeError

__all__ = ["decode", "decode_message", "decode_request", "encode", "peek_ref"]

# Strings, arrays and maps can't hold more items than the frame has bytes; the
# explicit caps keep a hostile frame from reserving memory up front.
_LIMITS: dict[str, int] = {
    "max_str_len": MAX_FRAME_BYTES,
    "max_bin_len": MAX_FRAME_BYTES,
    "max_array_len": MAX_FRAME_BYTES,
    "max_map_len": MAX_FRAME_BYTES // 2,
    "max_ext_len": 0,
}

# A Packer per thread, kept: msgpack.packb builds one per call, which cost 0.9 us of
# the 1.4 an event's packing took. Per thread because a Packer has one buffer.
_packers = threading.local()


def _refuse_ext(code: int, data: bytes) -> object:
    # max_ext_len=0 still lets zero-length ext values through; protocol v1 has none.
    raise ValueError(f"msgpack ext type {code} is not allowed")


def encode(msg: Record | dict[str, Any]) -> bytes:
    """Pack a record (or an already built map) into one frame."""
    if isinstance(msg, Record):
        msg = msg.to_wire()
    try:
        pack = _packers.pack
    except AttributeError:
        pack = _packers.pack = msgpack.Packer(use_bin_type=True).pack
    packed: bytes = pack(msg)
    return packed


def decode(frame: bytes, max_size: int | None = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Unpack one frame into a map, or raise :class:`DecodeError` saying why.

    ``max_size`` guards callers that did not set MAXMSGSIZE on their socket; the
    client raises it because broker replies such as a long ``users`` list may exceed
    the request limit.
    """
    if max_size is not None and len(frame) > max_size:
        raise DecodeError(f"frame is {len(frame)} bytes; the limit is {max_size}")
    try:
        if len(frame) <= MAX_FRAME_BYTES:
            # unpackb's own limits are the frame's length, tighter than _LIMITS here,
            # and passing them all cost 0.65 us of a chat request's 1.5 us decode.
            # max_ext_len=0 stays: the timestamp ext type never reaches ext_hook.
            msg = msgpack.unpackb(
                frame, raw=False, strict_map_key=True, ext_hook=_refuse_ext, max_ext_len=0
            )
        else:
            msg = msgpack.unpackb(
                frame, raw=False, strict_map_key=True, ext_hook=_refuse_ext, **_LIMITS
            )
    except msgpack.ExtraData:
        raise DecodeError("frame holds more than one msgpack object") from None
    except (ValueError, TypeError, msgpack.StackError, msgpack.FormatError) as exc:
        # ValueError covers truncated input, invalid UTF-8 in a str, int map keys
        # and ext types; TypeError an unhashable key; StackError absurd nesting.
        raise DecodeError(f"not valid msgpack: {str(exc) or type(exc).__name__}") from None
    if not isinstance(msg, dict):
        raise DecodeError(f"frame is a msgpack {type(msg).__name__}, not a map")
    # strict_map_key still admits bin keys; `data` maps are checked by check_data.
    for key in msg:
        if not isinstance(key, str):
            raise DecodeError("map keys must be strings")
    return msg


# peek_ref looks at this many keys at most: a request has fewer than ten.
_PEEK_KEYS = 16


def peek_ref(frame: bytes) -> Ref:
    """The valid ``ref`` of a request frame that is not to be decoded: the other
    values are skipped, not built (a tenth of a decode's cost for a hostile frame).
    None if it has none, or is no msgpack map with ``ref`` among its first keys."""
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        ext_hook=_refuse_ext,
        max_buffer_size=max(1, len(frame)),
        **_LIMITS,
    )
    try:
        unpacker.feed(frame)
        for _ in range(min(unpacker.read_map_header(), _PEEK_KEYS)):
            if unpacker.unpack() == "ref":
                return request_ref({"ref": unpacker.unpack()})
            unpacker.skip()
    except (ValueError, TypeError, msgpack.UnpackException):
        return None  # not a map, cut short, or absurd: no ref to tell
    return None


_PEEK_BYTES = 80


def peek_type(frame: bytes) -> str | None:
    """The ``type`` of a request frame when it is its first key, as clients send it,
    read without decoding the rest; else None."""
    # A map header, "type" and a str of at most 64 bytes fit in the first 80: only
    # those are fed (a file_chunk's 60 KiB copied into the unpacker cost 15 us).
    head = frame[:_PEEK_BYTES]
    unpacker = msgpack.Unpacker(
        raw=False, max_buffer_size=max(1, len(head)), max_str_len=64, max_bin_len=0,
        max_array_len=0, max_map_len=len(frame) // 2, max_ext_len=0,
    )  # fmt: skip
    try:
        unpacker.feed(head)
        if unpacker.read_map_header() < 1 or unpacker.unpack() != "type":
            return None
        kind = unpacker.unpack()
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
    return kind if isinstance(kind, str) else None


def decode_bulk(frame: bytes) -> dict[str, Any]:
    """Decode a request that may be larger than MAX_REQUEST_BYTES because it carries
    bytes (a ``file_chunk``): a few keys, no arrays, short strings, so that a hostile
    frame claiming to be one costs about what copying its bytes does."""
    try:
        msg = msgpack.unpackb(
            frame, raw=False, strict_map_key=True, ext_hook=_refuse_ext, max_map_len=8,
            max_array_len=0, max_str_len=MAX_REQUEST_BYTES, max_ext_len=0,
        )  # fmt: skip
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise DecodeError(f"not a bulk request: {exc}") from None
    if not isinstance(msg, dict):
        raise DecodeError("a request must be a map")
    return msg


def decode_request(frame: bytes) -> Request:
    """Decode and validate a client frame (raises ProtocolError/DecodeError)."""
    return parse_request(decode(frame))


def decode_message(frame: bytes, max_size: int | None = None) -> BrokerMessage:
    """Decode a broker frame into its record (raises ProtocolError/DecodeError)."""
    return parse_message(decode(frame, max_size))
