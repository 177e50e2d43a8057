"""docs/protocol.md can't drift from the code: every example in it must parse.

The doc tags its fenced examples:

* ```json request                 -> parse_request accepts every map in the block
* ```json rejected-request CODE   -> parse_request refuses it with that error code
* ```json reply / ```json event   -> parse_message accepts it, the record is a reply
  (or an event), and encoding the record gives the example's exact bytes: the same
  keys, in the same order, with the same types (real captures of the broker)
* ```hex request/reply/event      -> frames in hex; the body is one of the JSON
  examples, byte for byte, and a topic is the right one for the event

and every request type, every broker message record and every error code the
broker sends must appear at least once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from zmqchat.common.codec import decode, encode
from zmqchat.common.messages import (
    BrokerMessage,
    ChatEvent,
    ErrorReply,
    PresenceEvent,
    Push,
    Record,
    Reply,
    SystemEvent,
)
from zmqchat.common.parsing import REQUEST_TYPES, parse_message, parse_request
from zmqchat.common.protocol import SYSTEM_TOPIC, ErrorCode, room_topic
from zmqchat.errors import ProtocolError

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

# Codes the broker documents as never sent (none since accounts came).
UNUSED_CODES: set[ErrorCode] = set()

_FENCE = re.compile(r"^```(\w+)[ \t]+([\w-]+)[ \t]*(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_SECTION = re.compile(r"^(\w+) \((\d+) bytes?\):$")


def _blocks(text: str) -> list[tuple[str, str, str, str, int]]:
    """(language, kind, argument, body, line) of every tagged fenced block."""
    out = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        out.append((m.group(1), m.group(2), m.group(3), m.group(4), line))
    return out


def _bin(value: dict[str, Any]) -> Any:
    """JSON has no bytes: the doc writes a msgpack bin (a file chunk's ``data``) as
    ``{"$bin": "<hex>"}``."""
    return bytes.fromhex(value["$bin"]) if set(value) == {"$bin"} else value


def _maps(body: str, where: str) -> list[dict[str, Any]]:
    """Every JSON value in a block (one or more, compact or indented); all maps."""
    decoder = json.JSONDecoder(object_hook=_bin)
    out, pos = [], 0
    while True:
        while pos < len(body) and body[pos].isspace():
            pos += 1
        if pos == len(body):
            break
        value, pos = decoder.raw_decode(body, pos)
        assert isinstance(value, dict), f"{where}: an example is not a map"
        out.append(value)
    assert out, f"{where}: empty example block"
    return out


def _frames(body: str, where: str) -> dict[str, bytes]:
    """Sections of a hex block: a 'name (N bytes):' line, then the hex on later lines."""
    frames: dict[str, bytes] = {}
    sizes: dict[str, int] = {}
    name = None
    for line in body.splitlines():
        header = _SECTION.match(line.strip())
        if header:
            name = header.group(1)
            assert name not in frames, f"{where}: two '{name}' sections"
            frames[name], sizes[name] = b"", int(header.group(2))
        elif line.strip():
            assert name is not None, f"{where}: hex before a 'name (N bytes):' line"
            frames[name] += bytes.fromhex(line)
    for name, frame in frames.items():
        assert len(frame) == sizes[name], f"{where}: {name} is {len(frame)} bytes, not as said"
    return frames


DOC_TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = _blocks(DOC_TEXT)


def _examples(*kinds: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (f"protocol.md:{line}", arg, m)
        for lang, kind, arg, body, line in BLOCKS
        if lang == "json" and kind in kinds
        for m in _maps(body, f"protocol.md:{line}")
    ]


def _ids(examples: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{where}-{m.get('type')}" for where, _, m in examples]


REQUESTS = _examples("request")
REJECTED = _examples("rejected-request")
REPLIES = _examples("reply")
EVENTS = _examples("event")
HEX = [(f"protocol.md:{line}", kind, body) for lang, kind, _, body, line in BLOCKS if lang == "hex"]


def test_every_tagged_block_is_known() -> None:
    known = {
        ("json", "request"),
        ("json", "rejected-request"),
        ("json", "reply"),
        ("json", "event"),
        ("hex", "request"),
        ("hex", "reply"),
        ("hex", "event"),
    }
    for lang, kind, _, _, line in BLOCKS:
        assert (lang, kind) in known, f"protocol.md:{line}: unknown tag {lang} {kind}"


@pytest.mark.parametrize(("where", "arg", "example"), REQUESTS, ids=_ids(REQUESTS))
def test_request_examples_parse(where: str, arg: str, example: dict[str, Any]) -> None:
    record = parse_request(example)
    # The broker ignores unknown keys, so a misspelt optional field would pass
    # silently: only a block tagged `ignored-fields` may show keys a request lacks.
    if arg != "ignored-fields":
        allowed = {"type"} | {key for _, key, _ in record._WIRE}
        assert set(example) <= allowed, f"{where}: unknown keys {set(example) - allowed}"


@pytest.mark.parametrize(("where", "code", "example"), REJECTED, ids=_ids(REJECTED))
def test_rejected_request_examples_fail_with_their_code(
    where: str, code: str, example: dict[str, Any]
) -> None:
    assert code in set(ErrorCode), f"{where}: {code!r} is not an error code"
    with pytest.raises(ProtocolError) as exc:
        parse_request(example)
    assert exc.value.code == code, f"{where}: refused with {exc.value.code}, doc says {code}"


def _runtime_types(hint: Any) -> tuple[type, ...]:
    """The classes a value of annotation ``hint`` may be (``float`` excludes ``int``)."""
    if hint is Any:
        return (object,)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(t for arg in typing.get_args(hint) for t in _runtime_types(arg))
    return (typing.get_origin(hint) or hint,)


@functools.cache
def _field_hints(cls: type[Record]) -> dict[str, Any]:
    """The resolved annotations of a record's dataclass fields (only those: class
    variables of Record need not be resolvable at run time)."""
    annotations = {f.name: f.type for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    holder = type("Fields", (), {"__annotations__": annotations})
    return typing.get_type_hints(holder, globalns=vars(sys.modules[cls.__module__]))


def _check_types(where: str, record: Record) -> None:
    """Each field has its annotated type: parse_message is lenient, and msgpack tells
    5 from 5.0, so a float shown as an int would be a different frame."""
    hints = _field_hints(type(record))
    for attr, key, _ in record._WIRE:
        value = getattr(record, attr)
        allowed = _runtime_types(hints[attr])
        ok = isinstance(value, allowed) and (bool in allowed or not isinstance(value, bool))
        assert ok, f"{where}: '{key}' is {value!r}, expected {hints[attr]}"
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, Record):
                _check_types(where, item)


def _check_message(where: str, example: dict[str, Any], union: Any) -> BrokerMessage:
    record = parse_message(example)
    assert isinstance(record, typing.get_args(union)), f"{where}: {record.TYPE} in wrong block"
    _check_types(where, record)
    assert encode(record) == encode(example), f"{where}: the broker would send {record.to_wire()}"
    return record


@pytest.mark.parametrize(("where", "arg", "example"), REPLIES, ids=_ids(REPLIES))
def test_reply_examples_are_what_the_broker_sends(
    where: str, arg: str, example: dict[str, Any]
) -> None:
    record = _check_message(where, example, Reply)
    assert "ref" in example, f"{where}: every reply carries ref"
    if isinstance(record, ErrorReply):
        assert record.code in set(ErrorCode) - UNUSED_CODES, f"{where}: bad code"


@pytest.mark.parametrize(("where", "arg", "example"), EVENTS, ids=_ids(EVENTS))
def test_event_examples_are_what_the_broker_sends(
    where: str, arg: str, example: dict[str, Any]
) -> None:
    _check_message(where, example, Push)
    assert "ref" not in example, f"{where}: events carry no ref"


@pytest.mark.parametrize(("where", "kind", "body"), HEX, ids=[h[0] for h in HEX])
def test_hex_frames_match_the_json_examples(where: str, kind: str, body: str) -> None:
    frames = _frames(body, where)
    name = "body" if kind == "event" else "frame"
    assert set(frames) == ({"topic", "body"} if kind == "event" else {"frame"}), where
    msg = decode(frames[name])
    examples = {"request": REQUESTS, "reply": REPLIES, "event": EVENTS}[kind]
    assert any(encode(m) == frames[name] for _, _, m in examples), (
        f"{where}: {msg} is not one of the JSON {kind} examples"
    )
    if kind == "request":
        parse_request(msg)
        return
    record = parse_message(msg)
    if kind == "event":
        if isinstance(record, ChatEvent | PresenceEvent):
            assert frames["topic"] == room_topic(record.room), where
        else:
            assert isinstance(record, SystemEvent), f"{where}: {record.TYPE} is not published"
            assert frames["topic"] == SYSTEM_TOPIC, where


def test_every_message_appears() -> None:
    requests = {m["type"] for _, _, m in REQUESTS}
    assert requests == REQUEST_TYPES, f"requests without an example: {REQUEST_TYPES - requests}"
    shown = {type(parse_message(m)) for _, _, m in REPLIES + EVENTS}
    every = set(typing.get_args(BrokerMessage))
    missing = sorted(cls.__name__ for cls in every - shown)
    assert not missing, f"broker messages without an example: {missing}"
    codes = {m["code"] for _, _, m in REPLIES if m["type"] == "error"}
    missing_codes = set(ErrorCode) - UNUSED_CODES - codes
    assert not missing_codes, f"error codes without an example: {sorted(missing_codes)}"
    kinds = {kind for _, kind, _ in HEX}
    assert {"request", "event"} <= kinds, "need a hex request and a hex event"
