"""The msgpack codec: every malformed frame becomes one DecodeError (DESIGN.md §3-4),
and valid requests survive parse -> encode -> decode unchanged."""

from __future__ import annotations

from typing import Any, get_args

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zmqchat.common.codec import decode, decode_message, decode_request, encode, peek_type
from zmqchat.common.messages import ChatEvent, HistoryPage
from zmqchat.common.parsing import REQUEST_TYPES, parse_request
from zmqchat.common.protocol import MAX_DATA_DEPTH, MAX_FRAME_BYTES, ErrorCode
from zmqchat.common.requests import Chat, Request
from zmqchat.errors import DecodeError, ProtocolError

REQUEST_CLASSES = get_args(Request)  # every request type, new ones included
FIELD_NAMES = [
    "type",
    "room",
    "text",
    "ref",
    "rooms",
    "data",
    "limit",
    "after",
    "before",
    "with",
    "to",
    "user",
    "proto",
    "password",
    "resume",
    "client",
    "from",
    "seq",
    "ts",
]
SETTINGS = settings(max_examples=200, deadline=None)


def _outcome(func: Any, *args: Any) -> Any:
    """The result of ``func(*args)``, or the ProtocolError it raised."""
    try:
        return func(*args)
    except ProtocolError as exc:
        return exc


def _packb(obj: Any) -> bytes:
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def test_decode_returns_the_map() -> None:
    msg = {"type": "chat", "room": "general", "text": "سلام", "data": {"b": b"\x00"}, "ref": None}
    assert decode(_packb(msg)) == msg
    assert decode(encode(msg)) == msg


def test_encode_uses_bin_type_for_bytes_and_str_for_text() -> None:
    frame = encode({"s": "x", "b": b"x"})
    assert frame == b"\x82\xa1s\xa1x\xa1b\xc4\x01x"
    assert decode(frame) == {"s": "x", "b": b"x"}


def test_decode_empty_map() -> None:
    assert decode(b"\x80") == {}


# ------------------------------------------------------------------- malformed frames


def _deep_array(depth: int) -> bytes:
    return b"\x81\xa4data" + b"\x91" * depth + b"\xc0"


MALFORMED = {
    "empty": b"",
    "not msgpack (reserved byte 0xc1)": b"\xc1",
    "not msgpack (text)": b"hello, broker",
    "json": b'{"type": "ping"}',
    "truncated map": _packb({"type": "chat", "room": "general", "text": "hello"})[:-3],
    "truncated header": b"\xde\x00",
    "map header only": b"\x82",
    "list": _packb(["type", "ping"]),
    "int": _packb(42),
    "negative int": _packb(-1),
    "str": _packb("ping"),
    "bin": _packb(b"\x80"),
    "nil": _packb(None),
    "bool": _packb(True),
    "float": _packb(1.5),
    "two maps": _packb({"type": "ping"}) + _packb({"type": "bye"}),
    "map and trailing byte": _packb({"type": "ping"}) + b"\x00",
    "int map key": _packb({1: "ping"}),
    "int key among str keys": _packb({"type": "ping", 2: "x"}),
    "nested int map key": _packb({"type": "chat", "data": {7: "seven"}}),
    "nil map key": _packb({None: 1}),
    "float map key": _packb({1.5: 1}),
    "array map key": b"\x81\x91\x01\x01",
    "deeply nested arrays": _deep_array(5000),
    "nested one level past the stack limit": _deep_array(1024),
    "invalid utf-8 in a str value": b"\x81\xa4text\xa2\xff\xfe",
    "invalid utf-8 in a key": b"\x81\xa2\xc3\x28\x01",
    "utf-8 encoded surrogate": b"\x81\xa1t\xa3\xed\xa0\x80",
    "ext type value": _packb({"type": "ping", "ref": msgpack.ExtType(1, b"x")}),
    "fixext16 value": _packb({"data": msgpack.ExtType(42, b"0123456789abcdef")}),
    "timestamp value": _packb({"ts": msgpack.Timestamp(1, 0)}),
    "ext type frame": _packb(msgpack.ExtType(3, b"abc")),
    "array32 claiming 4G items": b"\x81\xa1a\xdd\xff\xff\xff\xff",
    "map32 claiming 4G pairs": b"\xdf\xff\xff\xff\xff",
    "str32 claiming 4 GB": b"\x81\xa1a\xdb\xff\xff\xff\xff",
    "over 64 KiB": _packb({"type": "chat", "text": "x" * MAX_FRAME_BYTES}),
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frame_is_a_decode_error(frame: bytes) -> None:
    with pytest.raises(DecodeError, match="bad_request") as info:
        decode(frame)
    assert isinstance(info.value, ProtocolError)
    assert info.value.code == ErrorCode.BAD_REQUEST
    assert info.value.message


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frame_is_a_decode_error_for_requests_and_messages(frame: bytes) -> None:
    with pytest.raises(DecodeError, match="bad_request"):
        decode_request(frame)
    if len(frame) <= MAX_FRAME_BYTES:
        with pytest.raises(DecodeError, match="bad_request"):
            decode_message(frame)


def test_decode_error_messages_say_why() -> None:
    with pytest.raises(DecodeError, match="more than one msgpack object"):
        decode(_packb({}) + _packb({}))
    with pytest.raises(DecodeError, match="not a map"):
        decode(_packb([1]))
    with pytest.raises(DecodeError, match=r"frame is 70000 bytes; the limit is 65536"):
        decode(b"\x00" * 70_000)


def _frame_of_size(size: int) -> bytes:
    # fixmap(1) + fixstr "t" (2) + str16 header (3) + payload
    frame = _packb({"t": "x" * (size - 6)})
    assert len(frame) == size
    return frame


def test_frame_of_exactly_64_kib_is_accepted() -> None:
    frame = _frame_of_size(MAX_FRAME_BYTES)
    assert decode(frame) == {"t": "x" * (MAX_FRAME_BYTES - 6)}


def test_frame_one_byte_over_64_kib_is_refused() -> None:
    with pytest.raises(DecodeError, match="65537 bytes"):
        decode(_frame_of_size(MAX_FRAME_BYTES + 1))


def test_decode_max_size_can_be_lifted_or_lowered() -> None:
    # a `users` reply may exceed the request limit; the client lifts max_size for it
    users = [f"user_{n:05d}" + "x" * 22 for n in range(3000)]
    big = encode({"type": "users", "users": users, "ref": None})
    assert len(big) > MAX_FRAME_BYTES
    with pytest.raises(DecodeError, match="the limit is 65536"):
        decode(big)
    assert decode(big, max_size=None)["users"] == users
    assert decode_message(big).users == tuple(users)  # type: ignore[union-attr]
    with pytest.raises(DecodeError, match="the limit is 10"):
        decode(_packb({"type": "ping", "ref": 1}), max_size=10)


def test_nesting_within_the_stack_limit_decodes() -> None:
    msg = decode(_deep_array(100))
    value = msg["data"]
    for _ in range(100):
        assert isinstance(value, list)
        assert len(value) == 1
        value = value[0]
    assert value is None


def test_bin_values_stay_bytes_and_str_values_stay_str() -> None:
    msg = decode(_packb({"s": "é", "b": "é".encode()}))
    assert msg == {"s": "é", "b": b"\xc3\xa9"}


@pytest.mark.parametrize("where", ["value", "nested in data"])
def test_zero_length_ext_type_is_a_decode_error(where: str) -> None:
    ext = msgpack.ExtType(5, b"")
    msg = {"ref": ext} if where == "value" else {"data": {"k": [ext]}}
    with pytest.raises(DecodeError, match="bad_request"):
        decode(_packb({"type": "ping", **msg}))


@pytest.mark.parametrize(
    "msg",
    [{b"type": "ping"}, {"type": "chat", "room": "g", "text": "t", "data": {b"k": 1}}],
    ids=["top-level bin key", "bin key in data"],
)
def test_bin_map_keys_are_a_decode_error(msg: dict[Any, Any]) -> None:
    # Top-level keys are checked by decode(); keys inside `data` by check_data.
    with pytest.raises(ProtocolError, match=r"bad_request: .*keys must be strings"):
        decode_request(_packb(msg))


_WIDE = {str(i): "v" for i in range(100)}


def _deep(levels: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        ({**{str(i): i for i in range(100)}, b"k": 1}, "keys must be strings"),
        ({"l": [*range(100), {b"k": 1}]}, "keys must be strings"),
        ({"l": [*range(100), {"a": _deep(MAX_DATA_DEPTH)}]}, "nested deeper"),
        ({"m": {**_WIDE, "deep": _deep(MAX_DATA_DEPTH)}}, "nested deeper"),
    ],
    ids=["bin key among many", "bin key in a long list", "deep in a long list",
         "deep in a wide map"],
)  # fmt: skip
def test_data_is_checked_item_by_item_in_wide_maps_and_long_lists(
    data: dict[Any, Any], refusal: str
) -> None:
    # Wide containers are scanned by type first (protocol._check_data_shape): what
    # the scan can't clear is still looked into, item by item.
    msg = {"type": "chat", "room": "g", "text": "t", "data": data}
    with pytest.raises(ProtocolError, match=f"bad_request: .*{refusal}"):
        decode_request(_packb(msg))


def test_wide_flat_data_is_accepted() -> None:
    data = {"n": {str(i): i for i in range(2000)}, "l": [*range(500), "x", 1.5, None, True]}
    req = decode_request(_packb({"type": "chat", "room": "g", "text": "t", "data": data}))
    assert isinstance(req, Chat)
    assert req.data == data


def test_accepted_data_can_be_served_in_a_history_page() -> None:
    depth = 1022
    frame = (
        b"\x84\xa4type\xa4chat\xa4room\xa7general\xa4text\xa2hi\xa4data\x81\xa1x"
        + b"\x91" * depth
        + b"\xc0"
    )
    assert len(frame) < 1100
    try:
        req = decode_request(frame)
    except ProtocolError:
        return  # refused up front: the fix this test asks for
    assert isinstance(req, Chat)
    event = ChatEvent(room=req.room, seq=1, sender="a", text=req.text, ts=1.0, data=req.data)
    page = HistoryPage(messages=(event,), more=False, room=req.room, ref=None)
    assert decode_message(encode(page), max_size=None) == page


# ------------------------------------------------------------------------- hypothesis


@SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_to_a_map_or_decode_error(frame: bytes) -> None:
    result = _outcome(decode, frame)
    if isinstance(result, ProtocolError):
        assert isinstance(result, DecodeError)
        assert result.code == ErrorCode.BAD_REQUEST
    else:
        assert isinstance(result, dict)


MAP_HEADERS = [bytes([0x80 + n]) for n in range(16)] + [b"\xde\x00\x02", b"\xdf\x00\x00\x00\x01"]


@SETTINGS
@given(st.sampled_from(MAP_HEADERS), st.binary(max_size=512))
def test_map_shaped_garbage_decodes_to_a_map_or_decode_error(header: bytes, body: bytes) -> None:
    result = _outcome(decode, header + body)
    if isinstance(result, ProtocolError):
        assert isinstance(result, DecodeError)
        assert result.code == ErrorCode.BAD_REQUEST
    else:
        assert isinstance(result, dict)


VALID_FRAME = _packb(
    {"type": "chat", "room": "general", "text": "hello", "data": {"a": [1, 2.5]}, "ref": 7}
)


@SETTINGS
@given(st.data())
def test_corrupted_valid_frame_decodes_to_a_map_or_decode_error(data: st.DataObject) -> None:
    frame = bytearray(VALID_FRAME)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    result = _outcome(decode_request, bytes(frame[:cut]))
    if isinstance(result, ProtocolError):
        assert result.code in set(ErrorCode)
    else:
        assert isinstance(result, REQUEST_CLASSES)


NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.binary(max_size=16)
    | NAMES
    | st.sampled_from(["general", "Alice", "", " ", "a b", "x" * 33, "x" * 65, "x" * 129])
    | st.sampled_from(sorted(REQUEST_TYPES))
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
RANDOM_REQUESTS = st.builds(
    lambda kind, fields: {**fields, "type": kind} if kind is not None else fields,
    st.none() | st.sampled_from(sorted(REQUEST_TYPES)) | SCALARS,
    st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), VALUES, max_size=8),
)
# Mostly plausible values, so parsing gets past the first field and into every branch.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "room": NAMES,
    "to": NAMES,
    "user": NAMES,
    "with": NAMES,
    "text": st.text(max_size=30),
    "rooms": st.lists(NAMES, max_size=3),
    "data": st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
    "limit": st.integers(-2, 502),
    "after": st.integers(-2, 100),
    "before": st.integers(-2, 100),
    "proto": st.integers(0, 2),
    "ref": st.integers(-5, 5) | st.text(max_size=66),
    "password": st.text(max_size=10),
    "resume": st.text(max_size=40),
    "client": st.text(max_size=130),
}
PLAUSIBLE_REQUESTS = st.builds(
    lambda kind, fields, extra: {**extra, **fields, "type": kind},
    st.sampled_from(sorted(REQUEST_TYPES)),
    st.fixed_dictionaries({}, optional={k: v | VALUES for k, v in PLAUSIBLE.items()}),
    st.dictionaries(st.sampled_from(["from", "seq", "ts"]) | st.text(max_size=8), VALUES),
)
REQUEST_DICTS = PLAUSIBLE_REQUESTS | RANDOM_REQUESTS


@SETTINGS
@given(REQUEST_DICTS)
def test_decode_request_raises_only_protocol_error(msg: dict[str, Any]) -> None:
    frame = encode(msg)
    result = _outcome(decode_request, frame)
    if isinstance(result, ProtocolError):
        assert result.code in set(ErrorCode)
        assert result.message
    else:
        assert isinstance(result, REQUEST_CLASSES)
        assert msg["type"] == result.TYPE
        # what the broker accepted survives being encoded again
        assert decode_request(encode(result)) == result


# Valid requests round-trip: encode(parse_request(d)) decodes to the normalised d.

TEXTS = st.text(min_size=1, max_size=1200).filter(
    lambda t: not t.isspace() and len(t.encode()) <= 4096
)
# refs are signed 64-bit (what the store holds), unlike `data` values (any msgpack int)
REFS = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=64)
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=10,
)
DATA = st.none() | st.dictionaries(st.text(max_size=10), JSONISH, max_size=5)


def _with_optional(msg: dict[str, Any], **optional: Any) -> dict[str, Any]:
    return {**msg, **{k: v for k, v in optional.items() if v is not None}}


@SETTINGS
@given(NAMES, TEXTS, DATA, REFS, st.booleans())
def test_valid_chat_round_trips(
    room: str, text: str, data: dict[str, Any] | None, ref: Any, send_ref: bool
) -> None:
    msg = _with_optional({"type": "chat", "room": room, "text": text}, data=data)
    if send_ref:
        msg["ref"] = ref
    expected = _with_optional({"type": "chat", "room": room.lower(), "text": text}, data=data) | {
        "ref": ref if send_ref else None
    }
    assert decode(encode(parse_request(msg))) == expected
    assert decode(encode(decode_request(encode(msg)))) == expected


@SETTINGS
@given(NAMES, TEXTS, DATA, REFS)
def test_valid_pm_round_trips(to: str, text: str, data: dict[str, Any] | None, ref: Any) -> None:
    msg = _with_optional({"type": "pm", "to": to, "text": text, "ref": ref}, data=data)
    expected = _with_optional({"type": "pm", "to": to, "text": text}, data=data) | {"ref": ref}
    assert decode(encode(parse_request(msg))) == expected


@SETTINGS
@given(
    NAMES,
    st.none() | st.lists(NAMES, max_size=6),
    st.none() | st.text(max_size=30),
    st.none() | st.text(min_size=16, max_size=40),
    st.none() | st.text(max_size=128),
    REFS,
)
def test_valid_register_round_trips(
    user: str,
    rooms: list[str] | None,
    password: str | None,
    resume: str | None,
    client: str | None,
    ref: Any,
) -> None:
    msg = _with_optional(
        {"type": "register", "user": user, "proto": 1, "ref": ref},
        rooms=rooms,
        password=password,
        resume=resume,
        client=client,
    )
    canonical = ["general"] if rooms is None else list(dict.fromkeys(r.lower() for r in rooms))
    expected = _with_optional(
        {"type": "register", "user": user, "proto": 1, "rooms": canonical},
        password=password,
        resume=resume,
        client=client,
    ) | {"ref": ref}
    assert decode(encode(parse_request(msg))) == expected


def test_peek_type_reads_only_the_head_of_a_frame():
    chunk = encode({"type": "file_chunk", "id": 1, "offset": 0, "data": b"x" * 60_000})
    assert peek_type(chunk) == "file_chunk"
    longest = "t" * 64  # the longest type it reads
    assert peek_type(encode({"type": longest, "data": b"x" * 1000})) == longest
    assert peek_type(encode({"type": "t" * 65})) is None
    assert peek_type(encode({"data": b"x", "type": "file_chunk"})) is None  # not first
    assert peek_type(b"\x81") is None  # cut short
