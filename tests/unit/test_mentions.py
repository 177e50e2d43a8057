"""Mentions without a screen or a broker: the matching rule, which events count,
how a line is highlighted, the counts per conversation, the once-per-burst gate
and what an alert says."""

from __future__ import annotations

import pytest

from zmqchat.client.chat.alerts import BURST, PREVIEW_CHARS, Burst, alert_text
from zmqchat.client.chat.formatting import format_event, plain
from zmqchat.client.chat.mentions import (
    MENTION,
    MENTIONED,
    is_mention,
    mark_mentions,
    mention_spans,
    mentions,
)
from zmqchat.client.chat.state import ChatState
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent, SystemEvent


def chat(text: str, sender: str = "bob", room: str = "general", seq: int = 11) -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender=sender, text=text, ts=1.0)


def pm(sender: str, to: str, text: str = "psst", id: int = 1) -> PmEvent:
    return PmEvent(id=id, sender=sender, to=to, text=text, ts=1.0)


# ------------------------------------------------------------------ matching


@pytest.mark.parametrize(
    "text",
    [
        "alice",
        "hi alice!",
        "@alice",
        "@Alice: look",
        "ALICE?",
        "(alice)",
        "alice's turn",
        "alice, bob and carol",
        "thanks,alice.",
        "«alice»",
        "alice- wait",  # a dash that joins nothing is punctuation
        "--alice",
        "first line\nalice on the second",
        "سلام alice",  # right-to-left text around it
        "alice سلام",
        "\u2067alice\u2069 گفت",  # an isolated name in RTL text
        "\u200falice",  # a right-to-left mark before it
        "alice 👋",
        "👋alice",  # an emoji is no letter
    ],
)
def test_a_name_as_a_word_is_a_mention(text):
    assert mentions(text, "alice")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "malice",
        "alicebot",
        "alice_bot",  # `_` is part of names
        "bob_alice",
        "alice-bob",  # another name
        "bob-alice",
        "alice2",
        "2alice",
        "aliceé",  # a letter of any script continues the word
        "éalice",
        "alice\u0301",  # a combining accent on its last letter
        "سلامalice",  # noqa: RUF001 - Persian letters glued to it
        "aliceсм",  # noqa: RUF001 - Cyrillic
        "ali ce",
        "alic",
    ],
)
def test_a_name_inside_another_word_is_not(text):
    assert not mentions(text, "alice")


def test_spans_are_where_the_name_is_without_the_at_sign():
    assert mention_spans("hi @Alice and alice", "alice") == [(4, 9), (14, 19)]
    assert mention_spans("malice alice", "alice") == [(7, 12)]
    assert mention_spans("alicealice alice", "alice") == [(11, 16)]
    assert mention_spans("anything", "") == []


def test_names_with_dashes_and_underscores_match_whole():
    assert mention_spans("hi jean-luc!", "Jean-Luc") == [(3, 11)]
    assert not mentions("jean-lucas", "jean-luc")
    assert not mentions("jean", "jean-luc")
    assert mention_spans("a_b a_bc _a_b", "a_b") == [(0, 3)]
    assert mentions("-_-", "_")  # even a one-character name, as a word of its own
    assert not mentions("a_b", "_")


def test_case_folding_is_ascii_only():
    # The Kelvin sign folds to "k" under Unicode rules; names are ASCII.
    assert not mentions("\u212a", "k")
    assert mentions("K", "k")


# ------------------------------------------------------------------ events


def test_which_events_are_for_the_user():
    assert is_mention(chat("hi alice"), "alice")
    assert is_mention(chat("hi ALICE", sender="Bob"), "Alice")
    assert not is_mention(chat("hi bob"), "alice")
    assert not is_mention(chat("I am alice", sender="Alice"), "alice")  # our own line
    assert is_mention(pm("bob", "Alice"), "alice")  # every private line is for us
    assert not is_mention(pm("alice", "bob", "hi bob"), "alice")  # one we sent
    assert not is_mention(pm("bob", "carol", "alice"), "alice")
    presence = PresenceEvent(room="general", seq=3, user="alice", event="join", ts=1.0)
    assert not is_mention(presence, "alice")
    assert not is_mention(SystemEvent(text="alice", ts=1.0), "alice")
    assert not is_mention(StatusEvent("connected"), "alice")
    assert not is_mention(chat("alice"), "")


# ------------------------------------------------------------------ highlighting


def test_mark_mentions_splits_the_name_off_with_its_style():
    assert mark_mentions([("class:text", "hi alice, hi Alice")], "alice") == [
        ("class:text", "hi "),
        (f"class:text {MENTION}", "alice"),
        ("class:text", ", hi "),
        (f"class:text {MENTION}", "Alice"),
    ]
    assert mark_mentions([("", "alice")], "alice") == [(MENTION, "alice")]
    assert mark_mentions([("class:text", "nobody")], "alice") == [("class:text", "nobody")]


def test_a_line_naming_the_viewer_is_highlighted_and_its_text_unchanged():
    event = chat("hey @alice, look\nalice here too", sender="bob")
    line = format_event(event, me="alice", multiline=True)
    assert plain(line) == plain(format_event(event, me=None, multiline=True))
    assert all(MENTIONED in style for style, _ in line)  # the whole line stands out
    names = [text for style, text in line if MENTION in style.split()]
    assert names == ["alice", "alice"]
    # Not for someone else, not our own line, not a private message.
    for quiet in (
        format_event(event, me="carol"),
        format_event(chat("alice says", sender="alice"), me="alice"),
        format_event(pm("bob", "alice", "alice!"), me="alice"),
    ):
        assert not any(MENTIONED in style or MENTION in style for style, _ in quiet)


def test_an_action_naming_the_viewer_is_highlighted_as_well():
    event = ChatEvent(
        room="general", seq=3, sender="bob", text="waves at alice", data={"emote": True}, ts=1.0
    )
    line = format_event(event, me="alice")
    assert plain(line).endswith("* bob waves at alice")
    assert [text for style, text in line if MENTION in style.split()] == ["alice"]


# ------------------------------------------------------------------ counts


def joined(*rooms: str) -> ChatState:
    state = ChatState("alice")
    for n, room in enumerate(rooms):
        state.begin_join(room)
        state.joined(room, 10, ["alice", "bob"], switch=n == 0)
        state.finish_loading(room)
    return state


def test_mentions_are_counted_among_the_unread_until_looked_at():
    state = joined("general", "dev")
    state.apply(chat("hello all", room="dev", seq=11))
    state.apply(chat("alice: a question", room="dev", seq=12))
    state.apply(chat("@alice again", room="dev", seq=13))
    state.apply(chat("alice, here", room="general", seq=11))  # looked at: not counted
    info = {c.key: c for c in state.snapshot().conversations}
    assert (info["#dev"].unread, info["#dev"].mentions) == (3, 2)
    assert (info["#general"].unread, info["#general"].mentions) == (0, 0)
    state.switch("dev")
    info = {c.key: c for c in state.snapshot().conversations}
    assert (info["#dev"].unread, info["#dev"].mentions) == (0, 0)
    # A mention in the room left behind counts there now.
    state.apply(chat("alice?", room="general", seq=12))
    info = {c.key: c for c in state.snapshot().conversations}
    assert (info["#general"].unread, info["#general"].mentions) == (1, 1)


def test_each_private_message_counts_as_a_mention_until_the_conversation_is_open():
    state = joined("general")
    state.apply(pm("bob", "alice", "one", id=1))
    state.apply(pm("bob", "alice", "two", id=2))
    state.apply(pm("alice", "bob", "mine", id=3))  # ours: neither unread nor a mention
    info = {c.key: c for c in state.snapshot().conversations}
    assert (info["@bob"].unread, info["@bob"].mentions) == (2, 2)
    state.talk_to("bob")
    state.apply(pm("bob", "alice", "three", id=4))  # looked at
    info = {c.key: c for c in state.snapshot().conversations}
    assert (info["@bob"].unread, info["@bob"].mentions) == (0, 0)


# ------------------------------------------------------------------ bursts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_alerts_once_then_again_after_the_window():
    clock = Clock()
    burst = Burst(5.0, clock)
    assert burst.ready()
    for step in (0.1, 1.0, 3.8):  # a busy minute's first seconds: one alert
        clock.now += step
        assert not burst.ready()
    clock.now += 0.1  # 5.0 s since the alert
    assert burst.ready()
    assert not burst.ready()
    assert BURST == 5.0


def test_alert_text_says_who_and_where_on_one_line():
    assert alert_text(chat("hi alice\nline two", room="dev")) == (
        "bob in #dev",
        "hi alice ↵ line two",
    )
    assert alert_text(pm("bob", "alice", "psst")) == ("bob (private message)", "psst")
    summary, body = alert_text(chat("alice " + "x" * 500))
    assert len(body) == PREVIEW_CHARS
    assert body.endswith("…")
    assert summary == "bob in #general"
