"""Protocol v1 rules of DESIGN.md §3-4: names, text and data sizes, refs and topics."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from zmqchat.common.protocol import (
    MAX_DATA_BYTES,
    MAX_NAME_CHARS,
    MAX_REF_CHARS,
    MAX_TEXT_BYTES,
    SYSTEM_TOPIC,
    ErrorCode,
    canonical_room,
    check_data,
    check_name,
    check_ref,
    check_text,
    is_room_topic,
    is_topic_prefix,
    is_valid_name,
    optional,
    require,
    room_topic,
    topic_room,
    user_key,
)
from zmqchat.errors import ProtocolError

PERSIAN = "سلام"  # 4 characters, 8 UTF-8 bytes
EMOJI = "\N{GRINNING FACE}"  # 1 character, 4 UTF-8 bytes


def test_limits_match_the_design() -> None:
    assert MAX_NAME_CHARS == 32
    assert MAX_TEXT_BYTES == 4096
    assert MAX_DATA_BYTES == 16 * 1024
    assert MAX_REF_CHARS == 64
    assert SYSTEM_TOPIC == b"\x00"


def test_error_codes_are_the_wire_strings() -> None:
    assert {code.value for code in ErrorCode} == {
        "bad_request",
        "invalid_name",
        "name_taken",
        "auth_failed",
        "unsupported_proto",
        "already_registered",
        "not_registered",
        "not_in_room",
        "too_long",
        "empty",
        "rate_limited",
        "no_such_user",
        "user_offline",
        "server_busy",
        "store_unavailable",
        "encryption_required",
        "mailbox_full",
        "not_invited",
        "not_operator",
        "no_such_room",
        "not_yours",
        "too_late",
        "no_such_message",
        "banned",
        # file transfers (protocol.md 2.14)
        "too_large",
        "quota_exceeded",
        "disk_full",
        "no_such_file",
        "hash_mismatch",
    }
    assert ErrorCode.TOO_LONG == "too_long"


# ------------------------------------------------------------------------------ names


VALID_NAMES = [
    "a",
    "Z",
    "0",
    "alice",
    "Alice_Bob-42",
    "_",
    "-",
    "--dash--",
    "x" * 32,
    "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
]

INVALID_NAMES = [
    "",
    "x" * 33,
    "has space",
    " alice",
    "alice ",
    "alice\n",
    "al.ice",
    "al/ice",
    "al@ice",
    "émile",
    PERSIAN,
    "bob" + EMOJI,
    "\uff41\uff4c\uff49\uff43\uff45",  # "alice" in fullwidth letters
    "١٢٣",  # Arabic-Indic digits
    "tab\there",
    "nul\x00",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names_are_accepted(name: str) -> None:
    assert is_valid_name(name)
    assert check_name(name, "user name") == name


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names_are_refused_as_invalid_name(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(ProtocolError, match="invalid_name") as info:
        check_name(name, "user name")
    assert info.value.code == ErrorCode.INVALID_NAME


def test_name_length_boundary_is_32_characters() -> None:
    assert check_name("n" * 32, "room") == "n" * 32
    with pytest.raises(ProtocolError, match="invalid_name"):
        check_name("n" * 33, "room")


@pytest.mark.parametrize("value", [None, 42, 1.5, True, b"alice", ["alice"], {"n": "alice"}])
def test_non_string_names_are_bad_request(value: object) -> None:
    assert not is_valid_name(value)
    with pytest.raises(ProtocolError, match="bad_request") as info:
        check_name(value, "user name")
    assert info.value.code == ErrorCode.BAD_REQUEST


def test_invalid_name_message_names_the_field() -> None:
    with pytest.raises(ProtocolError, match="invalid_name") as info:
        check_name("no way", "room")
    assert "room" in info.value.message
    assert "'no way'" in info.value.message


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("general", "general"),
        ("General", "general"),
        ("GENERAL", "general"),
        ("Dev-Ops_2", "dev-ops_2"),
        ("X" * 32, "x" * 32),
    ],
)
def test_room_names_are_canonical_lower_case(name: str, canonical: str) -> None:
    assert canonical_room(name) == canonical


def test_canonical_room_validates() -> None:
    with pytest.raises(ProtocolError, match="invalid_name"):
        canonical_room("not a room")
    with pytest.raises(ProtocolError, match="invalid_name"):
        canonical_room("R" * 33)
    with pytest.raises(ProtocolError, match="bad_request"):
        canonical_room(7)


def test_user_key_is_case_insensitive() -> None:
    assert user_key("Alice") == user_key("alice") == user_key("ALICE") == "alice"
    assert user_key("Alice") != user_key("Alicia")


# ------------------------------------------------------------------------------- text


def test_text_of_exactly_4096_ascii_bytes_is_accepted() -> None:
    text = "a" * 4096
    assert check_text(text) == text


def test_text_of_4097_ascii_bytes_is_too_long() -> None:
    with pytest.raises(ProtocolError, match="too_long") as info:
        check_text("a" * 4097)
    assert info.value.code == ErrorCode.TOO_LONG
    assert "4097" in info.value.message


def test_persian_text_is_measured_in_bytes() -> None:
    assert len(PERSIAN) == 4
    assert len(PERSIAN.encode()) == 8
    fits = PERSIAN * 512  # 2048 characters, 4096 bytes
    assert check_text(fits) == fits
    with pytest.raises(ProtocolError, match="too_long"):
        check_text(fits + "a")  # 2049 characters, 4097 bytes
    # 2049 characters of text that would pass a character count of 4096
    with pytest.raises(ProtocolError, match="too_long"):
        check_text(PERSIAN * 513)


def test_emoji_text_is_measured_in_bytes() -> None:
    fits = EMOJI * 1024  # 1024 characters, 4096 bytes
    assert check_text(fits) == fits
    with pytest.raises(ProtocolError, match="too_long"):
        check_text(EMOJI * 1025)
    with pytest.raises(ProtocolError, match="too_long"):
        check_text(EMOJI * 1023 + "abcde")  # 1028 characters, 4097 bytes


def test_mixed_width_text_at_the_boundary() -> None:
    # 3-byte CJK characters: 1365 * 3 = 4095 bytes, plus one ASCII byte = 4096
    fits = "\u4e2d" * 1365 + "a"
    assert len(fits.encode()) == 4096
    assert check_text(fits) == fits
    with pytest.raises(ProtocolError, match="too_long"):
        check_text(fits + "b")


@pytest.mark.parametrize("text", ["", " ", "   ", "\t", "\n", " \t\r\n ", "\u3000", "\u00a0"])
def test_empty_and_whitespace_only_text_is_empty(text: str) -> None:
    with pytest.raises(ProtocolError, match="empty") as info:
        check_text(text)
    assert info.value.code == ErrorCode.EMPTY


@pytest.mark.parametrize("text", ["a", " a ", "\n.\n", "0", EMOJI, PERSIAN])
def test_text_with_something_visible_is_kept_as_is(text: str) -> None:
    assert check_text(text) == text


@pytest.mark.parametrize("value", [None, 5, 1.0, True, b"hello", ["hi"], {"text": "hi"}])
def test_non_string_text_is_bad_request(value: object) -> None:
    with pytest.raises(ProtocolError, match="bad_request") as info:
        check_text(value)
    assert info.value.code == ErrorCode.BAD_REQUEST


def test_text_is_never_truncated() -> None:
    text = "b" * 4096
    assert len(check_text(text)) == 4096


# ------------------------------------------------------------------------------- data


def test_absent_data_is_none() -> None:
    assert check_data(None) is None


@pytest.mark.parametrize(
    "data",
    [{}, {"kind": "roll", "dice": [1, 6]}, {"nested": {"a": {"b": None}}, "blob": b"\x00\x01"}],
)
def test_data_map_is_accepted_and_returned_packed(data: dict[str, Any]) -> None:
    packed = check_data(data)
    assert packed == msgpack.packb(data, use_bin_type=True)
    assert msgpack.unpackb(packed, raw=False) == data


@pytest.mark.parametrize("value", [[1, 2], "text", 7, 1.5, True, b"bytes"])
def test_data_that_is_not_a_map_is_bad_request(value: object) -> None:
    with pytest.raises(ProtocolError, match="bad_request") as info:
        check_data(value)
    assert info.value.code == ErrorCode.BAD_REQUEST


def _data_of_encoded_size(size: int) -> dict[str, str]:
    # fixmap(1) + fixstr "x" (2) + str16 header (3) + payload
    data = {"x": "a" * (size - 6)}
    assert len(msgpack.packb(data, use_bin_type=True)) == size
    return data


def test_data_of_exactly_16_kib_encoded_is_accepted() -> None:
    packed = check_data(_data_of_encoded_size(16 * 1024))
    assert packed is not None
    assert len(packed) == 16 * 1024


def test_data_over_16_kib_encoded_is_too_long() -> None:
    with pytest.raises(ProtocolError, match="too_long") as info:
        check_data(_data_of_encoded_size(16 * 1024 + 1))
    assert info.value.code == ErrorCode.TOO_LONG


# -------------------------------------------------------------------------------- ref


@pytest.mark.parametrize("ref", [None, 0, 1, -5, 2**63 - 1, "", "abc", "r" * 64, PERSIAN])
def test_valid_refs_are_returned_unchanged(ref: object) -> None:
    assert check_ref(ref) == ref
    assert type(check_ref(ref)) is type(ref)


@pytest.mark.parametrize(
    "ref", [True, False, 1.0, 2.5, [1], {"id": 1}, b"ref", "r" * 65, (1,)], ids=repr
)
def test_invalid_refs_are_bad_request(ref: object) -> None:
    with pytest.raises(ProtocolError, match="bad_request") as info:
        check_ref(ref)
    assert info.value.code == ErrorCode.BAD_REQUEST


# ----------------------------------------------------------------------------- fields


def test_require_and_optional_field_helpers() -> None:
    msg = {"n": 3, "flag": True, "s": "x", "nil": None}
    assert require(msg, "n", int, "an integer") == 3
    assert optional(msg, "n", int, "an integer") == 3
    assert optional(msg, "absent", int, "an integer") is None
    assert optional(msg, "nil", int, "an integer") is None
    with pytest.raises(ProtocolError, match="bad_request: missing field 'absent'"):
        require(msg, "absent", int, "an integer")
    with pytest.raises(ProtocolError, match="bad_request: missing field 'nil'"):
        require(msg, "nil", int, "an integer")
    # bool is an int subclass in Python but not an integer on the wire
    with pytest.raises(ProtocolError, match="'flag' must be an integer"):
        require(msg, "flag", int, "an integer")
    with pytest.raises(ProtocolError, match="'flag' must be an integer"):
        optional(msg, "flag", int, "an integer")
    with pytest.raises(ProtocolError, match="'s' must be an integer"):
        require(msg, "s", int, "an integer")


# ----------------------------------------------------------------------------- topics


@pytest.mark.parametrize("room", ["general", "dev", "devops", "a", "x" * 32, "a-b_c"])
def test_room_topic_is_name_and_zero_byte(room: str) -> None:
    topic = room_topic(room)
    assert topic == room.encode("ascii") + b"\x00"
    assert topic_room(topic) == room


def test_room_topic_literal() -> None:
    assert room_topic("general") == b"general\x00"
    assert topic_room(b"general\x00") == "general"


def test_system_topic_has_no_room() -> None:
    assert topic_room(SYSTEM_TOPIC) is None
    assert topic_room(b"\x00") is None


def test_dev_topic_is_not_a_prefix_of_devops_topic() -> None:
    # ZeroMQ subscriptions match by prefix: without the zero byte, a `dev`
    # subscriber would receive `devops` traffic.
    assert b"devops".startswith(b"dev")
    assert not room_topic("devops").startswith(room_topic("dev"))
    assert not room_topic("dev").startswith(room_topic("devops"))


def test_no_room_topic_matches_the_system_subscription() -> None:
    for room in ("general", "a", "_", "-", "0"):
        assert not room_topic(room).startswith(SYSTEM_TOPIC)
        assert room_topic(room) != SYSTEM_TOPIC


@pytest.mark.parametrize(
    ("topic", "room_topic_", "prefix"),
    [
        (b"general\x00", True, False),
        (b"a-b_9\x00", True, False),
        (b"", False, True),
        (b"gen", False, True),
        (b"x" * 32, False, True),
        (b"x" * 33, False, False),
        (b"General\x00", False, False),  # topics are of canonical (lower-case) names
        (b"General", False, False),
        (b"\xe9\xf6", False, False),
        (b"\x00", False, False),  # the broker-wide topic is no room's
        (b"lob by\x00", False, False),
        (b"x" * 33 + b"\x00", False, False),
    ],
)
def test_what_a_room_topic_and_its_prefixes_can_be(
    topic: bytes, room_topic_: bool, prefix: bool
) -> None:
    assert is_room_topic(topic) is room_topic_
    assert is_topic_prefix(topic) is prefix
