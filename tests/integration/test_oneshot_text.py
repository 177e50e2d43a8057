"""`zmqchat tail --mentions` and `zmqchat send --whole` as real processes against a
real broker."""

from __future__ import annotations

import contextlib
import json

import pytest
from tests.cli_helpers import run_cli, spawn_cli
from tests.integration.test_script_commands import history_texts, one_line_error

from zmqchat import Client, PresenceEvent
from zmqchat.testing import expect

pytestmark = pytest.mark.timeout(60)


def test_tail_mentions_prints_only_what_names_the_user_and_pms_to_them(broker, tmp_path):
    port = str(broker.port)
    with contextlib.ExitStack() as stack, Client("bob", broker.endpoint) as bob:
        tail = spawn_cli(
            tmp_path, "tail", "--port", port, "--user", "alice", "--mentions", "--json",
            "--count", "3",
        )  # fmt: skip
        stack.enter_context(tail)
        expect(bob, PresenceEvent, user="alice", event="join")
        for text in (
            "hello everyone",
            "malice and alice_bot are not her",
            "hi @Alice, a question",
            "alice-bob is someone else",
        ):
            bob.send("general", text)
        bob.pm("alice", "psst")
        bob.send("general", "ALICE: and this one")
        out, err = tail.communicate(timeout=20)
    assert tail.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["type"], e["text"]) for e in events] == [
        ("chat", "hi @Alice, a question"),
        ("pm", "psst"),
        ("chat", "ALICE: and this one"),
    ]
    assert all(e["from"] == "bob" for e in events)


def test_tail_mentions_of_a_name_online_elsewhere_reads_history_as_text(broker, tmp_path):
    port = str(broker.port)
    with Client("alice", broker.endpoint) as alice, Client("bob", broker.endpoint) as bob:
        bob.send("general", "nothing here")
        bob.send("general", "alice, look at seq 3")
        alice.send("general", "I am alice and I say so")  # her own line: not a mention
        bob.send("general", "still nothing")
        # alice is online: the tail watches her name under a name of its own.
        result = run_cli(
            tmp_path, "tail", "--port", port, "--mentions", "alice", "--last", "10",
            "--count", "1",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("#general <bob> alice, look at seq 3")


def test_tail_mentions_without_a_name_is_a_usage_error(broker, tmp_path):
    result = run_cli(tmp_path, "tail", "--port", str(broker.port), "--mentions")
    assert result.returncode == 2
    assert "--mentions needs a name" in one_line_error(result)


def test_send_whole_sends_stdin_as_one_message_with_its_lines(broker, tmp_path):
    port = str(broker.port)
    text = "Build 44:\n  3 tests failed\n\nsee https://ci/44\n\n"
    whole = run_cli(tmp_path, "send", "--port", port, "--whole", "-", input=text)
    assert whole.returncode == 0, whole.stderr
    lines = run_cli(tmp_path, "send", "--port", port, "-", input=text)  # one per line
    assert lines.returncode == 0, lines.stderr
    with Client("check", broker.endpoint) as check:
        assert history_texts(check) == [
            "Build 44:\n  3 tests failed\n\nsee https://ci/44",
            "Build 44:",
            "  3 tests failed",
            "see https://ci/44",
        ]
    # zmqchat history shows it as the chat does: its lines under the first one's text.
    shown = run_cli(tmp_path, "history", "--port", port, "general", "--limit", "4")
    assert shown.returncode == 0, shown.stderr
    first, *rest = shown.stdout.splitlines()[:4]
    head = first.index("Build 44:")
    assert first.endswith("> Build 44:")
    assert [line.rstrip() for line in rest] == [
        " " * head + "  3 tests failed",
        "",
        " " * head + "see https://ci/44",
    ]


@pytest.mark.parametrize("size", [4097, 1_000_000])
def test_send_whole_refuses_a_message_over_the_limit_and_sends_nothing(broker, tmp_path, size):
    result = run_cli(
        tmp_path,
        "send",
        "--port",
        str(broker.port),
        "--whole",
        "-",
        input="x\n" * (size // 2) + "y" * (size % 2),
    )
    assert result.returncode == 1
    error = one_line_error(result)
    assert "stdin refused: too_long" in error
    assert "nothing was sent" in error
    with Client("check", broker.endpoint) as check:
        assert history_texts(check) == []
