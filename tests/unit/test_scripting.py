"""The pure parts of the script commands: inputs, names, exit statuses, --help."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import threading

import pytest

from zmqchat.cli import build_parser
from zmqchat.cli.oneshot import mention_name
from zmqchat.client.chat.failures import ExitCode, ScriptError
from zmqchat.client.console.arguments import parse_data
from zmqchat.client.console.exits import exit_status_help, stop_signals
from zmqchat.client.console.oneshot import messages_to_send
from zmqchat.client.console.outgoing import whole_message
from zmqchat.client.console.runner import run, unique_name
from zmqchat.common.protocol import is_valid_name
from zmqchat.errors import BrokerError, ConfigError, ConnectionClosed, Timeout

SCRIPT_COMMANDS = ("send", "tail", "pm", "who", "rooms", "history")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_words_are_one_message():
    assert list(messages_to_send(["hello", "there"], io.StringIO("ignored\n"))) == [
        ("the message", "hello there")
    ]


def test_stdin_gives_one_message_per_line_without_blank_ones():
    stdin = io.StringIO("one\n\n   \n  two  \r\nthree")
    expected = [("line 1", "one"), ("line 4", "  two  "), ("line 5", "three")]
    assert list(messages_to_send(["-"], stdin)) == expected
    stdin.seek(0)
    assert list(messages_to_send([], stdin)) == expected  # a pipe without `-`


def test_nothing_to_send_from_a_terminal_is_a_usage_error():
    with pytest.raises(ScriptError) as caught:
        list(messages_to_send([], Tty()))
    assert caught.value.code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ('{"ok": true}', {"ok": True}), ("{}", {})]
)
def test_parse_data(raw, expected):
    assert parse_data(raw) == expected


@pytest.mark.parametrize("raw", ["[1]", "42", "{nope", '"text"'])
def test_parse_data_refuses_what_is_not_an_object(raw):
    with pytest.raises(ScriptError) as caught:
        parse_data(raw)
    assert caught.value.code == ExitCode.USAGE


def test_unique_name_is_a_valid_name_for_this_process(monkeypatch):
    name = unique_name("send")
    assert is_valid_name(name)
    assert name.startswith("send-")
    monkeypatch.setattr("socket.gethostname", lambda: "a very.long host name" + "x" * 60)
    long_one = unique_name("history")
    assert is_valid_name(long_one)
    assert len(long_one) <= 32
    assert long_one.endswith(f"-{os.getpid()}")


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (BrokerError("name_taken", "the name alice is taken"), 1, "name_taken: the name alice"),
        (Timeout("no answer within 5s"), 3, "broker unreachable: no answer"),
        (ConnectionClosed("replaced"), 1, "connection closed: replaced"),
        (ConfigError("flag --port: 'x' is not a valid integer"), 2, "flag --port"),
        (ScriptError(ExitCode.USAGE, "nothing to send"), 2, "nothing to send"),
        (KeyboardInterrupt(), 130, ""),
    ],
)
def test_run_turns_each_failure_into_one_line_and_a_status(error, code, text):
    def body() -> int:
        raise error

    err = io.StringIO()
    assert run("send", body, stderr=err) == code
    lines = err.getvalue().splitlines()
    if text:
        assert len(lines) == 1
        assert lines[0].startswith("zmqchat send: ")
        assert text in lines[0]
    else:
        assert lines == []


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_unwinds_the_command_once_with_its_own_status(signum, status):
    unwound = []

    def body() -> int:
        try:
            os.kill(os.getpid(), signum)
            threading.Event().wait(10)  # where a command waits for events or stdin
            raise AssertionError("the signal did not interrupt the command")
        finally:
            # Unwinding closes the client (bye); a second signal, as a closing
            # terminal may send, must not cut that short.
            os.kill(os.getpid(), signum)
            unwound.append(signum)

    before = signal.getsignal(signum)
    err = io.StringIO()
    assert run("tail", body, stderr=err) == status
    assert unwound == [signum]
    assert err.getvalue() == ""
    assert signal.getsignal(signum) is before


def test_a_hangup_ignored_as_under_nohup_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert stop_signals() == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_exit_statuses_are_distinct_and_documented():
    assert len({int(c) for c in ExitCode}) == len(ExitCode)
    for tail in (False, True):
        documented = re.findall(r"^  (\d+) ", exit_status_help(tail=tail), re.MULTILINE)
        expected = [c for c in ExitCode if tail or c != ExitCode.TIMED_OUT]
        assert sorted(map(int, documented)) == sorted(map(int, expected))


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", SCRIPT_COMMANDS)
def test_every_option_of_every_command_is_explained_with_examples(name):
    sub = _subparsers(build_parser())[name]
    for action in sub._actions:
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
    text = sub.format_help()
    assert "examples:" in text
    assert f"zmqchat {name}" in text.split("examples:")[1]
    assert "exit status:" in text
    assert "ZMQCHAT_HOST" in text
    assert ("4    --timeout" in text) == (name == "tail")


def test_tail_rejects_since_with_last(capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["tail", "--since", "3", "--last", "2"])
    assert caught.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["tail", "--count", "0"],
        ["tail", "--timeout", "0"],
        ["tail", "--since", "-1"],
        ["history", "general", "--limit", "0"],
    ],
)
def test_bad_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 2


def test_whole_stdin_is_one_message_with_its_line_breaks():
    stdin = io.StringIO("first\n\n  indented\r\nlast\n\n")
    assert list(messages_to_send(["-"], stdin, whole=True)) == [
        ("stdin", "first\n\n  indented\r\nlast")  # only the line breaks at the end go
    ]
    assert list(messages_to_send([], io.StringIO(" \n\n"), whole=True)) == []  # blank
    # TEXT words are one message already: --whole changes nothing there.
    assert list(messages_to_send(["a", "b"], io.StringIO("x"), whole=True)) == [
        ("the message", "a b")
    ]
    assert whole_message(io.StringIO("é" * 2048 + "\n")) == "é" * 2048  # 4096 bytes: fits


@pytest.mark.parametrize("size", [2049, 100_000])
def test_a_whole_stdin_over_the_limit_is_refused_never_cut(size):
    with pytest.raises(ScriptError) as caught:
        whole_message(io.StringIO("é" * size))
    assert caught.value.code == ExitCode.REFUSED
    assert "too_long" in caught.value.message
    assert "nothing was sent" in caught.value.message


def test_tail_mentions_takes_the_name_given_then_user_then_the_configured_one():
    assert mention_name(None, "bob", "carol") is None  # no --mentions
    assert mention_name("alice", "bob", "carol") == "alice"
    assert mention_name("", "bob", "carol") == "bob"
    assert mention_name("", None, "carol") == "carol"
    for given, user in (("", None), ("no spaces", None)):
        with pytest.raises(ScriptError) as caught:
            mention_name(given, user, None)
        assert caught.value.code == ExitCode.USAGE
