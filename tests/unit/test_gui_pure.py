"""The GUI's parts that need neither a screen nor a broker: which characters Tk
can draw, the remembered connect settings, the input history, rows and what came
unread."""

from __future__ import annotations

import json

import pytest

from zmqchat.client.chat.formatting import format_event, nick_style
from zmqchat.client.gui.connect_form import ConnectFailed, check_nodes, form_fields, parse_port
from zmqchat.client.gui.glyphs import REPLACEMENT, choose_policy, displayable
from zmqchat.client.gui.input_history import InputHistory
from zmqchat.client.gui.prefs import LastConnect, load_last, save_last
from zmqchat.client.gui.rtl import shape
from zmqchat.client.gui.transcript import HANG, Row, Transcript, to_row
from zmqchat.common.messages import ChatEvent

PERSIAN = "سلام دنیا"


@pytest.mark.parametrize(
    ("patchlevel", "windowing", "xft", "policy"),
    [
        ("8.6.9", "x11", 20306, "bmp"),  # 16-bit Tcl: non-BMP raises or garbles
        ("8.5.19", "win32", None, "bmp"),
        ("8.6.13", "x11", 20306, "all"),
        ("8.6.13", "x11", 20304, "no-emoji"),  # old libXft: colour glyphs kill X
        ("8.6.13", "x11", None, "no-emoji"),
        ("8.6.12", "aqua", None, "all"),
        ("9.0.1", "win32", None, "all"),
    ],
)
def test_the_glyph_policy_follows_tk_and_xft(patchlevel, windowing, xft, policy):
    assert choose_policy(patchlevel, windowing, xft) == policy


def test_what_cannot_be_drawn_is_replaced_and_the_rest_kept():
    text = f"{PERSIAN} 👋 ☺\ufe0f ok"
    assert displayable(text, "all") == text
    assert displayable(text, "bmp") == f"{PERSIAN} {REPLACEMENT} ☺\ufe0f ok"
    assert displayable(text, "no-emoji") == f"{PERSIAN} {REPLACEMENT} {REPLACEMENT * 2} ok"
    assert displayable("plain ascii", "bmp") == "plain ascii"


def test_rows_carry_tags_from_the_styles_and_replaced_text():
    event = ChatEvent(room="general", seq=1, sender="bob", text=f"{PERSIAN} 😀", ts=1.0)
    row = to_row(format_event(event, history=True, compact=True), "bmp")
    assert row.text.endswith(f"<bob> {PERSIAN} {REPLACEMENT}")
    assert row.has_tag("history")
    assert row.has_tag("time")
    assert ("bob", ("history", nick_style("bob").removeprefix("class:"))) in row.parts


def test_the_connect_settings_are_remembered(tmp_path):
    path = tmp_path / "zmqchat" / "gui.json"
    assert load_last(path) == LastConnect()
    save_last(LastConnect("alice", "10.0.0.5", 5555), path)
    assert load_last(path) == LastConnect("alice", "10.0.0.5", 5555)
    assert json.loads(path.read_text()) == {"user": "alice", "host": "10.0.0.5", "port": 5555}
    # A broken or strange file is ignored, not fatal.
    path.write_text("{not json")
    assert load_last(path) == LastConnect()
    path.write_text('{"user": 7, "host": "h", "port": true}')
    assert load_last(path) == LastConnect(None, "h", None)
    blocked = tmp_path / "file"
    blocked.write_text("")
    save_last(LastConnect("x"), blocked / "gui.json")  # cannot write: logged only


def test_up_and_down_walk_through_what_was_sent():
    history = InputHistory(limit=3)
    assert history.older("draft") is None
    for line in ["one", "two", "two", "three", "four"]:
        history.add(line)
    assert history.older("typing") == "four"
    assert history.older("four") == "three"
    assert history.older("three") == "two"
    assert history.older("two") is None  # the oldest kept (limit 3)
    assert history.newer() == "three"
    assert history.newer() == "four"
    assert history.newer() == "typing"  # back to what was being typed
    assert history.newer() is None


@pytest.mark.parametrize(("text", "port"), [("5555", 5555), (" 1 ", 1), ("0", None), ("x", None)])
def test_ports(text, port):
    assert parse_port(text) == port


def test_a_message_of_several_lines_is_one_row_indented_under_its_text():
    event = ChatEvent(room="general", seq=1, sender="bob", text="one\ntwo\nthree", ts=1.0)
    line = format_event(event, compact=True, multiline=True)
    row = to_row(line, "all")
    head = row.text.split("\n")[0]
    assert head.endswith("<bob> one")
    assert row.text.split("\n")[1:] == ["two", "three"]  # no spaces: the view indents
    assert row.height == 3
    assert row.hang == head.removesuffix("one")  # what the view measures to indent by
    continued = [tags for text, tags in row.parts if "two" in text]
    assert continued
    assert HANG in continued[0]
    assert not any(HANG in tags for text, tags in row.parts if "one" in text)
    single = to_row(format_event(event, compact=True), "all")
    assert (single.hang, single.height) == ("", 1)
    assert "↵" in single.text


def test_right_to_left_rows_are_shaped_and_left_in_reading_order_for_the_view():
    event = ChatEvent(room="general", seq=1, sender="bob", text=f"hi {PERSIAN}", ts=1.0)
    row = to_row(format_event(event, compact=True), "all", rtl=True)
    assert row.bidi
    assert row.text.endswith(f"hi {shape(PERSIAN)}")
    assert not to_row(format_event(event, compact=True), "all").bidi  # macOS orders it
    plain_row = ChatEvent(room="general", seq=2, sender="bob", text="hi", ts=1.0)
    assert not to_row(format_event(plain_row, compact=True), "all", rtl=True).bidi


def test_rows_that_come_unread_are_counted_until_the_conversation_is_looked_at():
    transcript = Transcript("#dev", limit=5)
    row = Row((("x", ()),))
    transcript.add(row, unread=False, looked_at=False)  # e.g. history shown on joining
    transcript.add(row, unread=True, looked_at=False)  # the first unread message
    transcript.add(row, unread=False, looked_at=False)  # a join after it: still new
    assert transcript.take_unseen() == 2
    assert transcript.take_unseen() == 0
    transcript.add(row, unread=True, looked_at=True)  # seen as it came
    assert transcript.unseen == 0
    for _ in range(9):
        transcript.add(row, unread=True, looked_at=False)
    assert transcript.take_unseen() == 5  # no more than the rows kept


def test_the_host_field_takes_several_broker_nodes():
    assert check_nodes("10.0.0.5", "5555") == ("tcp://10.0.0.5:5555",)
    # Each node with its own port, or the port field's; tcp:// may be typed too.
    assert check_nodes(" h1:5555, tcp://h2:5565 ,h3", "6000") == (
        "tcp://h1:5555",
        "tcp://h2:5565",
        "tcp://h3:6000",
    )
    assert check_nodes("[::1]:5555,h1:5555,h1:5555", "") == ("tcp://[::1]:5555", "tcp://h1:5555")
    # The port field matters only to a node without a port of its own.
    failed = check_nodes("h1:5555, h2", "x")
    assert isinstance(failed, ConnectFailed)
    assert failed.field == "port"
    assert check_nodes("h1:5555, h2:5565", "x") == ("tcp://h1:5555", "tcp://h2:5565")
    for wrong in ("h1:5555,", "h1:99999", "not a host", "h1:5555 h2:5565", ""):
        failed = check_nodes(wrong, "5555")
        assert isinstance(failed, ConnectFailed)
        assert failed.field == "host", wrong
    assert form_fields(("tcp://h1:5555",)) == ("h1", "5555")
    assert form_fields(("tcp://h1:5555", "tcp://h2:5565")) == ("h1:5555, h2:5565", "5555")
    # What the form shows, read back, is what it was made from.
    both = ("tcp://h1:5555", "tcp://h2:5565")
    assert check_nodes(*form_fields(both)) == both


def test_several_nodes_are_remembered_with_the_first_as_host_and_port(tmp_path):
    path = tmp_path / "gui.json"
    both = ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5565")
    save_last(LastConnect("bob", "127.0.0.1", 5555, both), path)
    assert load_last(path) == LastConnect("bob", "127.0.0.1", 5555, both)
    assert json.loads(path.read_text()) == {
        "user": "bob",
        "host": "127.0.0.1",
        "port": 5555,
        "endpoints": list(both),
    }
    # Nodes that are not endpoints are dropped, the rest of the file kept.
    path.write_text('{"user": "bob", "host": "h", "port": 1, "endpoints": ["h:1", 7]}')
    assert load_last(path) == LastConnect("bob", "h", 1)
