"""Line formatting shared by `zmqchat tail` and the console: pure, no terminal."""

from __future__ import annotations

import json
import time

import pytest

from zmqchat.client.chat.formatting import (
    NICK_COLOURS,
    banner,
    error,
    event_json,
    format_event,
    nick_style,
    plain,
    safe_text,
)
from zmqchat.client.chat.timestamps import DayMarks, day_separator, format_time
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent, SystemEvent

# A fixed moment (local time) so the expected clock strings do not depend on today.
NOON = time.mktime((2024, 5, 17, 12, 0, 0, 0, 0, -1))


def chat(text: str = "hello", sender: str = "alice", **kw: object) -> ChatEvent:
    return ChatEvent(room="general", seq=7, sender=sender, text=text, ts=NOON + 5, **kw)


def test_chat_line_shows_time_room_sender_and_text():
    assert plain(format_event(chat(), now=NOON)) == "12:00:05 #general <alice> hello"


def test_older_events_carry_their_date():
    assert format_time(NOON - 86400 * 3, now=NOON) == "2024-05-14 12:00:00"
    assert format_time(NOON + 1, now=NOON) == "12:00:01"


def test_a_day_separator_goes_between_events_of_different_days():
    assert day_separator(None, NOON) is None  # nothing before: nothing to separate
    assert day_separator(NOON - 3600, NOON + 3600) is None
    # Local days: just before and just after midnight are different days.
    midnight = time.mktime((2024, 5, 18, 0, 0, 0, 0, 0, -1))
    line = day_separator(midnight - 1, midnight + 1)
    assert line is not None
    assert plain(line) == "─── Saturday 2024-05-18 ───"  # the day of the later one
    assert {style for style, _ in line} == {"class:day"}
    # Going back a day (a page of older lines) names the day of the second one too.
    earlier = day_separator(NOON, NOON - 86400 * 2)
    assert earlier is not None
    assert plain(earlier) == "─── Wednesday 2024-05-15 ───"


def test_day_marks_separate_days_below_and_above_what_a_stream_shows():
    days = DayMarks()
    yesterday, today = NOON - 86400, NOON
    assert days.below("#dev", yesterday) is None  # its first line
    assert days.below("#dev", yesterday + 60) is None
    mark = days.below("#dev", today)
    assert mark is not None
    assert plain(mark) == "─── Friday 2024-05-17 ───"
    assert days.below("#dev", today + 1) is None
    # Each stream on its own: another conversation's first line needs none.
    assert days.below("@bob", today) is None
    # Older lines added on top: a separator between them and the first shown,
    # naming the day of the first shown (yesterday's).
    older = days.above("#dev", NOON - 3 * 86400, NOON - 2 * 86400)
    assert older is not None
    assert plain(older) == "─── Thursday 2024-05-16 ───"
    assert days.above("#dev", NOON - 3 * 86400, NOON - 3 * 86400 + 5) is None  # same day
    # A stream shown afresh starts again from nothing.
    days.forget("#dev")
    assert days.below("#dev", today + 2) is None


def test_sender_colour_is_stable_and_case_insensitive():
    line = format_event(chat(sender="Alice"), now=NOON)
    style = next(style for style, text in line if text == "Alice")
    assert style == nick_style("alice") == nick_style("ALICE")
    assert style.startswith("class:nick.c")
    assert 0 <= int(style.rsplit("c", 1)[1]) < NICK_COLOURS
    # Not everyone gets the same colour.
    assert len({nick_style(f"user{n}") for n in range(50)}) == NICK_COLOURS


def test_presence_lines():
    join = PresenceEvent(room="dev", seq=3, user="alice", event="join", ts=NOON)
    leave = PresenceEvent(room="dev", seq=4, user="bob", event="leave", reason="timeout", ts=NOON)
    quiet = PresenceEvent(room="dev", seq=5, user="bob", event="leave", ts=NOON)
    assert plain(format_event(join, now=NOON)) == "12:00:00 #dev → alice joined"
    assert plain(format_event(leave, now=NOON)) == "12:00:00 #dev ← bob left (timeout)"
    assert plain(format_event(quiet, now=NOON)) == "12:00:00 #dev ← bob left"
    styles = {s for s, _ in format_event(join)}
    assert styles <= {"class:time", "class:room", "class:presence", ""}


def test_private_messages_are_marked_in_both_directions():
    pm = PmEvent(id=1, sender="alice", to="bob", text="psst", ts=NOON)
    assert plain(format_event(pm, me="bob", now=NOON)) == "12:00:00 [pm from alice] psst"
    assert plain(format_event(pm, me="ALICE", now=NOON)) == "12:00:00 [pm to bob] psst"


def test_emote_and_data():
    assert plain(format_event(chat("waves", data={"emote": True}), now=NOON)) == (
        "12:00:05 #general * alice waves"
    )
    line = plain(format_event(chat("build 42 passed", data={"build": 42, "ok": True}), now=NOON))
    assert line == '12:00:05 #general <alice> build 42 passed {"build": 42, "ok": true}'
    # Only a real `true` makes an emote.
    assert "<alice>" in plain(format_event(chat("x", data={"emote": "yes"})))


def test_system_and_status_lines():
    assert plain(format_event(SystemEvent(text="broker shutting down", ts=NOON), now=NOON)) == (
        "12:00:00 *** broker shutting down"
    )
    lost = plain(format_event(StatusEvent(state="reconnecting", reason="connection lost")))
    assert lost.startswith("*** connection lost")
    assert "reconnecting" in lost
    assert "resumed" in plain(format_event(StatusEvent(state="connected", resumed=True)))
    assert plain(format_event(StatusEvent(state="closed", reason="replaced"))).startswith("!!!")


def test_history_lines_are_marked_dim_everywhere():
    line = format_event(chat(), history=True, now=NOON)
    assert all("class:history" in style for style, _ in line)
    assert plain(line) == plain(format_event(chat(), now=NOON))
    assert "history" in plain(banner("history of #general"))


def test_non_ascii_text_passes_through():
    text = "سلام دنیا 👋🏽 — 日本語"
    assert plain(format_event(chat(text), now=NOON)).endswith(text)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2Jgotcha", "^[[2Jgotcha"),  # would clear the screen
        ("two\nlines", "two ↵ lines"),
        ("a\r\nb", "a ↵ b"),
        ("tab\there", "tab here"),
        ("bell\x07 del\x7f c1\x9b", "bell^G del^? c1\\x9b"),
    ],
)
def test_control_characters_cannot_reach_the_terminal(raw, shown):
    assert safe_text(raw) == shown
    assert plain(format_event(chat(raw), now=NOON)).endswith(shown)
    assert "\x1b" not in plain(format_event(chat(raw), now=NOON))


def test_error_lines_are_one_readable_line():
    assert plain(error("you are not in room dev", "not_in_room")) == (
        "!!! you are not in room dev (not_in_room)"
    )
    assert "\n" not in plain(error("multi\nline"))


def test_event_json_has_every_field_and_keeps_utf8():
    event = chat("سلام", data={"ok": True, "blob": b"\x00\x01", "n": [1, 2]})
    line = event_json(event)
    assert "\n" not in line
    assert "سلام" in line
    decoded = json.loads(line)
    assert decoded == {
        "type": "chat",
        "room": "general",
        "seq": 7,
        "from": "alice",
        "text": "سلام",
        "data": {"ok": True, "blob": "AAE=", "n": [1, 2]},
        "ts": NOON + 5,
    }
    presence = PresenceEvent(room="dev", seq=4, user="bob", event="leave", reason="timeout", ts=1.5)
    assert json.loads(event_json(presence))["reason"] == "timeout"


def test_a_message_of_several_lines_keeps_them_under_its_first_when_asked():
    text = "first line\r\nsecond\n\nafter a blank line"
    # By default (tail, scripts): one line per event, the breaks shown as ↵.
    assert plain(format_event(chat(text), now=NOON)) == (
        "12:00:05 #general <alice> first line ↵ second ↵  ↵ after a blank line"
    )
    shown = plain(format_event(chat(text), now=NOON, multiline=True)).split("\n")
    indent = " " * len("12:00:05 #general <alice> ")
    assert shown == [
        "12:00:05 #general <alice> first line",
        f"{indent}second",
        indent,
        f"{indent}after a blank line",
    ]
    # The same in a pane of its own (compact), for an emote, and for a pm.
    compact = format_event(chat("a\nb"), now=NOON, compact=True, multiline=True)
    assert plain(compact) == "12:00:05 <alice> a\n" + " " * len("12:00:05 <alice> ") + "b"
    assert ("class:indent", " " * len("12:00:05 <alice> ")) in compact
    emote = format_event(chat("waves\nand smiles", data={"emote": True}), now=NOON, multiline=True)
    assert plain(emote).split("\n")[1] == " " * len("12:00:05 #general * alice ") + "and smiles"
    pm = PmEvent(id=1, sender="bob", to="alice", text="one\ntwo", ts=NOON)
    assert plain(format_event(pm, me="alice", now=NOON, multiline=True)).split("\n") == [
        "12:00:00 [pm from bob] one",
        " " * len("12:00:00 [pm from bob] ") + "two",
    ]
    # Control characters stay visible on every line; data follows the last one.
    odd = format_event(chat("x\x1b[31m\ny", data={"k": 1}), now=NOON, multiline=True)
    assert plain(odd).split("\n")[0].endswith("<alice> x^[[31m")
    assert plain(odd).endswith('y {"k": 1}')


def test_status_lines_name_the_broker_node():
    silent = StatusEvent(state="reconnecting", reason="broker not answering", endpoint="tcp://h:1")
    assert "lost with h:1 (broker not answering)" in plain(format_event(silent))
    lost = StatusEvent(state="reconnecting", reason="connection lost", endpoint="tcp://h1:5555")
    assert plain(format_event(lost)) == "*** connection lost with h1:5555; reconnecting…"
    back = StatusEvent(state="connected", resumed=True, endpoint="tcp://h2:5555")
    assert plain(format_event(back)) == "*** reconnected (session resumed) to h2:5555"
