"""Requests larger than any valid one are `too_long` without being decoded (protocol
§7 item 68), their ref read cheaply; every valid request fits under the bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest

from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode, peek_ref
from zmqchat.common.config import BrokerConfig
from zmqchat.common.parsing import parse_request
from zmqchat.common.protocol import (
    MAX_CLIENT_CHARS,
    MAX_DATA_BYTES,
    MAX_NAME_CHARS,
    MAX_PASSWORD_CHARS,
    MAX_REF_CHARS,
    MAX_REGISTER_ROOMS,
    MAX_REQUEST_BYTES,
    MAX_TEXT_BYTES,
)

NAME = "n" * MAX_NAME_CHARS
REF = "\U0001f600" * MAX_REF_CHARS  # 4 bytes a character
TEXT = "\u00e9" * (MAX_TEXT_BYTES // 2)  # 2 bytes a character


def _data() -> dict[str, Any]:
    overhead = len(msgpack.packb({"b": b"x" * 1000}, use_bin_type=True)) - 1000
    data = {"b": b"x" * (MAX_DATA_BYTES - overhead)}
    assert len(msgpack.packb(data, use_bin_type=True)) == MAX_DATA_BYTES
    return data


LARGEST = {
    "chat": {"type": "chat", "room": NAME, "text": TEXT, "data": _data(), "ref": REF},
    "pm": {"type": "pm", "to": NAME, "text": TEXT, "data": _data(), "ref": REF},
    "register": {
        "type": "register",
        "user": NAME,
        "proto": 1,
        "rooms": [f"{i:0{MAX_NAME_CHARS}d}" for i in range(MAX_REGISTER_ROOMS)],
        "password": "\U0001f600" * MAX_PASSWORD_CHARS,
        "client": "\U0001f600" * MAX_CLIENT_CHARS,
        "resume": "t" * 64,
        "ref": REF,
    },
}


@pytest.mark.parametrize("kind", sorted(LARGEST))
def test_the_largest_valid_requests_fit(kind: str) -> None:
    frame = encode(LARGEST[kind])
    parse_request(decode(frame))  # valid
    assert len(frame) <= MAX_REQUEST_BYTES


def test_a_larger_request_is_too_long_unread_with_its_ref(tmp_path: Path) -> None:
    core = BrokerCore(BrokerConfig(), Store(str(tmp_path / "s.db")), pub_port=1)
    try:
        hostile = {"type": "chat", "ref": 7, "data": {str(i): i for i in range(9000)}}
        core.handle(b"peer", encode(hostile), 1.0)
        core.handle(b"peer", encode({"data": {str(i): i for i in range(9000)}, "ref": 8}), 1.0)
        replies = [decode(body) for _rid, body in core.out.replies]
        assert [(r["code"], r["ref"]) for r in replies] == [("too_long", 7), ("too_long", 8)]
        assert str(MAX_REQUEST_BYTES) in replies[0]["message"]
    finally:
        core.close()
        core.store.close()


@pytest.mark.parametrize(
    ("frame", "ref"),
    [
        (encode({"type": "ping", "ref": 3}), 3),
        (encode({"type": "ping", "ref": "r-1"}), "r-1"),
        (encode({"type": "ping"}), None),
        (encode({"type": "ping", "ref": "x" * (MAX_REF_CHARS + 1)}), None),  # not valid
        (encode({"type": "ping", "ref": [1]}), None),
        (encode([1, 2]), None),
        (b"\x91" * 30_000, None),
        (b"\x82\xa3ref", None),  # cut short
        (b"", None),
        (msgpack.packb({1: 2, "ref": 5}), 5),
        (encode({str(i): i for i in range(20)} | {"ref": 5}), None),  # past the keys looked at
    ],
)
def test_peek_ref(frame: bytes, ref: object) -> None:
    assert peek_ref(frame) == ref
