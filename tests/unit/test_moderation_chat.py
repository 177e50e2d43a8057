"""Topics and moderation in the screen-less chat model: what the slash commands
parse to, how durations are read and shown, the lines topic and moderation events
make, and what ChatState does with them (the topic of each room, members removed,
a room we were taken out of)."""

from __future__ import annotations

from typing import Any

import pytest

from zmqchat.client.chat.commands import Invalid, ModerateRoom, SetTopic, parse_input
from zmqchat.client.chat.completion import completions
from zmqchat.client.chat.formatting import format_event, plain
from zmqchat.client.chat.slash_commands import COMMANDS, help_lines
from zmqchat.client.chat.state import ChatState
from zmqchat.client.chat.toolbar import format_toolbar
from zmqchat.common.durations import duration_text, parse_duration
from zmqchat.common.messages import ChatEvent, PresenceEvent
from zmqchat.common.moderation import ModerationEvent, TopicEvent

NOON = 1_700_000_000.0


def moderation(action: str, user: str | None = None, **fields: Any) -> ModerationEvent:
    values: dict[str, Any] = {"room": "general", "seq": 9, "sender": "alice", "ts": NOON}
    return ModerationEvent(action=action, user=user, **{**values, **fields})


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/topic", SetTopic(None)),
        ("/topic Release day, no merges", SetTopic("Release day, no merges")),
        ("/topic -delete", SetTopic("")),
        ("/topic #Dev stand-up at 10", SetTopic("stand-up at 10", "dev")),
        ("/op bob", ModerateRoom("op", "bob")),
        ("/deop #dev Bob", ModerateRoom("deop", "Bob", "dev")),
        ("/kick bob", ModerateRoom("kick", "bob")),
        ("/kick bob flooding the room", ModerateRoom("kick", "bob", reason="flooding the room")),
        ("/ban bob", ModerateRoom("ban", "bob")),
        ("/ban bob 2h", ModerateRoom("ban", "bob", duration=7200.0)),
        ("/ban bob 1d spam", ModerateRoom("ban", "bob", duration=86400.0, reason="spam")),
        ("/ban bob spam links", ModerateRoom("ban", "bob", reason="spam links")),
        ("/unban bob", ModerateRoom("unban", "bob")),
        ("/lock", ModerateRoom("lock")),
        ("/unlock #dev", ModerateRoom("unlock", room="dev")),
    ],
)
def test_moderation_commands_parse(line: str, command: object) -> None:
    assert parse_input(line) == command


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/op", "usage: /op USER"),
        ("/op bob now", "usage: /op USER"),
        ("/kick", "usage: /kick USER [REASON]"),
        ("/kick no!name", "not a user name"),
        ("/ban #no.room bob", "not a room name"),
        ("/unban bob x", "usage: /unban USER"),
        ("/lock now", "usage: /lock"),
    ],
)
def test_moderation_commands_say_what_is_wrong(line: str, says: str) -> None:
    command = parse_input(line)
    assert isinstance(command, Invalid)
    assert says in command.message


def test_help_lists_them_and_tab_completes_names_after_them() -> None:
    text = "\n".join(help_lines())
    for usage in ("/topic [TEXT]", "/kick USER [REASON]", "/ban USER [DURATION] [REASON]"):
        assert usage in text
    names = {spec.name for spec in COMMANDS}
    assert {"topic", "op", "deop", "kick", "ban", "unban", "lock", "unlock"} <= names
    assert completions("/ki", rooms=[], users=[]) == ("/ki", ["/kick"])
    assert completions("/ban Bo", rooms=[], users=["bob", "al"]) == ("Bo", ["bob"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45", 45.0), ("90s", 90.0), ("10m", 600.0), ("2H", 7200.0), ("1.5d", 129600.0),
     ("1w", 604800.0), ("0", None), ("-5m", None), ("soon", None), ("", None)],
)  # fmt: skip
def test_durations_are_read(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1s"), (59, "59s"), (60, "1m"), (3661, "1h 1m"), (86400, "1d"), (90061, "1d 1h")],
)
def test_durations_are_shown(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


# --------------------------------------------------------------------- lines


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (TopicEvent(room="general", seq=3, sender="bob", text="Hi\nall", ts=NOON),
         "bob set the topic: Hi ↵ all"),
        (TopicEvent(room="general", seq=3, sender="bob", text="", ts=NOON),
         "bob cleared the topic"),
        (moderation("op", "bob"), "alice made bob an operator"),
        (moderation("deop", "bob"), "alice took operator from bob"),
        (moderation("kick", "bob", reason="too\x1b[31m loud"), "alice kicked bob (too^[[31m loud)"),
        (moderation("ban", "bob", until=NOON + 7200), "alice banned bob for 2h"),
        (moderation("ban", "bob"), "alice banned bob"),
        (moderation("unban", "bob"), "alice unbanned bob"),
        (moderation("lock"), "alice locked the topic: only operators may set it"),
        (moderation("unlock"), "alice unlocked the topic"),
        (moderation("mute", "bob"), "alice mute bob"),  # a newer broker's action
    ],
)  # fmt: skip
def test_topic_and_moderation_lines(event: TopicEvent | ModerationEvent, line: str) -> None:
    shown = plain(format_event(event, now=NOON, compact=True))
    assert shown.split(" ", 1)[1] == line
    assert plain(format_event(event, now=NOON)).split(" ", 2)[1] == "#general"


def test_the_toolbar_shows_the_rooms_topic_cut_to_fit() -> None:
    bar = plain(format_toolbar("alice", "general", {}, "connected", topic="Release day"))
    assert "#general Release day │" in bar
    long = plain(format_toolbar("alice", "general", {}, "connected", topic="x" * 200))
    assert "x" * 59 + "…" in long
    assert "Release" not in plain(
        format_toolbar("alice", "general", {}, "connected", query="bob", topic="Release day")
    )


# --------------------------------------------------------------------- state


def joined_state() -> ChatState:
    state = ChatState("alice")
    state.joined("general", 5, ["alice", "bob", "carol"], topic="first")
    state.finish_loading("general")
    state.joined("dev", 1, ["alice"], switch=False)
    state.finish_loading("dev")
    return state


def test_the_topic_follows_the_joined_reply_and_the_rooms_events() -> None:
    state = joined_state()
    assert state.snapshot().topic == "first"
    event = TopicEvent(room="general", seq=6, sender="bob", text="second", ts=NOON)
    assert state.apply(event) == [event]
    assert (state.topic("general"), state.snapshot().topic) == ("second", "second")
    assert state.apply(event) == []  # seen
    assert state.unread() == {}  # a topic is no unread message
    state.switch("dev")
    assert state.snapshot().topic == ""
    state.talk_to("bob")
    assert state.snapshot().topic == ""


def test_a_kick_or_ban_removes_the_member_and_takes_us_out_of_the_room() -> None:
    state = joined_state()
    kick = moderation("kick", "bob", seq=6)
    leave = PresenceEvent(room="general", seq=7, user="bob", event="leave", reason="kicked", ts=1)
    assert state.apply(kick) == [kick]
    assert state.apply(leave) == [leave]
    assert state.members("general") == ["alice", "carol"]
    ban = moderation("ban", "ALICE", seq=8)
    assert state.apply(ban) == [ban]
    assert "general" not in state.rooms
    assert state.current == "dev"
    # What follows from the room is not shown in any room of ours, and our removal
    # said again (over ROUTER and over PUB) is shown once.
    assert state.apply(ban) == []


def test_a_removal_already_covered_is_not_shown_again() -> None:
    state = joined_state()
    state.apply(ChatEvent(room="general", seq=6, sender="bob", text="x", ts=1.0))
    assert state.apply(moderation("kick", "alice", seq=6)) == []
    assert "general" in state.rooms
