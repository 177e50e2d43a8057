"""Parsing what is typed in the chat, and what Tab proposes: pure functions."""

from __future__ import annotations

import pytest

from zmqchat.client.chat.commands import (
    Emote,
    Invalid,
    JoinRoom,
    LeaveRoom,
    Quit,
    Say,
    SendPm,
    ShowHelp,
    ShowHistory,
    ShowRooms,
    ShowWho,
    SwitchRoom,
    parse_input,
)
from zmqchat.client.chat.completion import completion_suffix, completions
from zmqchat.client.chat.keys import CONSOLE_KEYS, GUI_KEYS
from zmqchat.client.chat.slash_commands import COMMANDS, help_lines


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("hello world", Say("hello world")),
        ("  indented stays  ", Say("  indented stays  ")),
        ("سلام 👋", Say("سلام 👋")),
        ("//etc/passwd is a path", Say("/etc/passwd is a path")),
        ("/join dev", JoinRoom("dev")),
        ("/JOIN #Dev", JoinRoom("dev")),
        ("/join   ops  ", JoinRoom("ops")),
        ("/leave", LeaveRoom(None)),
        ("/leave #dev", LeaveRoom("dev")),
        ("/part dev", LeaveRoom("dev")),
        ("/room general", SwitchRoom("general")),
        ("/msg bob are you there?", SendPm("bob", "are you there?")),
        ("@bob  hi  there", SendPm("bob", "hi  there")),
        ("/who", ShowWho(None)),
        ("/who dev", ShowWho("dev")),
        ("/who *", ShowWho(None, everyone=True)),
        ("/names", ShowWho(None)),
        ("/rooms", ShowRooms()),
        ("/list", ShowRooms()),
        ("/history", ShowHistory(20)),
        ("/history 5", ShowHistory(5)),
        ("/me waves at everyone", Emote("waves at everyone")),
        ("/help", ShowHelp()),
        ("/quit", Quit()),
        ("/exit", Quit()),
    ],
)
def test_parse(line, command):
    assert parse_input(line) == command


@pytest.mark.parametrize("line", ["", "   ", "\t"])
def test_blank_lines_are_nothing(line):
    assert parse_input(line) is None


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/frobnicate", "unknown command /frobnicate"),
        ("/join", "usage: /join ROOM"),
        ("/join two rooms", "usage: /join ROOM"),
        ("/join bad.name", "not a room name"),
        ("/room", "usage: /room ROOM"),
        ("/msg bob", "usage: /msg USER TEXT"),
        ("/msg", "usage: /msg USER TEXT"),
        ("@bob", "usage: @USER TEXT"),
        ("@bob    ", "usage: @USER TEXT"),
        ("@ hi", "usage"),
        ("@bad!name hi", "not a user name"),
        ("/history zero", "usage: /history [N]"),
        ("/history 0", "N from 1 to 500"),
        ("/history 501", "N from 1 to 500"),
        ("/me", "usage: /me ACTION"),
        ("/quit now", "usage: /quit"),
        ("/rooms all", "usage: /rooms"),
    ],
)
def test_invalid_lines_say_why(line, says):
    command = parse_input(line)
    assert isinstance(command, Invalid)
    assert says in command.message


def test_help_lists_every_command():
    text = "\n".join(help_lines())
    for spec in COMMANDS:
        assert spec.usage in text
    assert "@USER TEXT" in text


def test_help_ends_with_the_keys_of_its_own_front_end():
    # The commands are shared; a key is one front end's (Ctrl-D means nothing in
    # a window).
    assert "Ctrl-D" not in "\n".join(help_lines())
    assert help_lines(CONSOLE_KEYS)[-len(CONSOLE_KEYS) :] == list(CONSOLE_KEYS)
    assert any("Ctrl-D" in line for line in CONSOLE_KEYS)
    gui = "\n".join(help_lines(GUI_KEYS))
    assert "Ctrl-D" not in gui
    assert "Shift+Enter" in gui


ROOMS = ["dev", "devops", "general"]
USERS = ["Alice", "alfred", "bob"]


@pytest.mark.parametrize(
    ("before", "word", "candidates"),
    [
        ("/jo", "/jo", ["/join"]),
        ("/h", "/h", ["/help", "/history"]),
        ("/join d", "d", ["dev", "devops"]),
        ("/join #g", "#g", ["#general"]),
        ("/leave DE", "DE", ["dev", "devops"]),
        ("/room gen", "gen", ["general"]),
        ("/msg al", "al", ["alfred", "Alice"]),
        ("@b", "@b", ["@bob"]),
        ("@AL", "@AL", ["@alfred", "@Alice"]),
        ("hi al", "al", ["alfred", "Alice"]),  # names anywhere, as IRC nick completion
        ("/msg bob hey al", "al", ["alfred", "Alice"]),
        ("/history 1", "1", []),
        ("", "", []),
        ("hello ", "", []),
    ],
)
def test_completions(before, word, candidates):
    assert completions(before, rooms=ROOMS, users=USERS) == (word, candidates)


@pytest.mark.parametrize(
    ("before", "suffix"),
    [
        ("al", ": "),  # a name that starts the line addresses someone, as in IRC
        ("hi al", " "),  # inside a sentence: a space
        ("/jo", " "),  # a command: its argument comes next
        ("@b", " "),  # a private message: its text comes next
        ("/join d", " "),
        ("/msg al", " "),
    ],
)
def test_a_completed_word_is_followed_by_what_typing_needs_next(before, suffix):
    word, _ = completions(before, rooms=ROOMS, users=USERS)
    assert completion_suffix(before, word) == suffix
