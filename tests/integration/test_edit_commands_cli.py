"""``zmqchat edit`` and ``zmqchat delete`` as real processes against a real broker: a
bot corrects its newest message and withdraws another by seq, without joining;
someone else's message and a user with none are refused, with the reason."""

from __future__ import annotations

import json

import pytest
from tests.cli_helpers import run_cli

from zmqchat import Client

pytestmark = pytest.mark.timeout(60)


def test_edit_and_delete_from_a_script(broker, tmp_path):
    port = str(broker.port)
    with (
        Client("ci-bot", broker.endpoint, rooms=["ci"]) as bot,
        Client("watcher", broker.endpoint, rooms=["ci"]) as eve,
    ):
        first = bot.send("ci", "build 44 failed").seq
        second = bot.send("ci", "build 45 faild").seq
        theirs = eve.send("ci", "not the bot's").seq
    head = theirs + 2  # the two leaves
    edited = run_cli(tmp_path, "edit", "--port", port, "--user", "ci-bot", "ci", "build 45 failed")
    assert edited.returncode == 0, edited.stderr
    assert edited.stdout == ""
    gone = run_cli(
        tmp_path, "delete", "--port", port, "--user", "ci-bot", "--json", "ci", str(first)
    )
    assert gone.returncode == 0, gone.stderr
    assert (json.loads(gone.stdout)["of"], json.loads(gone.stdout)["seq"]) == (first, head + 2)
    history = run_cli(tmp_path, "history", "--port", port, "--json", "ci")
    events = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(e["seq"], e["text"]) for e in events] == [
        (first, ""),
        (second, "build 45 failed"),
        (theirs, "not the bot's"),
    ]
    assert events[0]["deleted"] is True
    assert "edited" in events[1]
    by_seq = run_cli(
        tmp_path, "edit", "--port", port, "--user", "ci-bot", "ci", str(second), "45", "passed"
    )
    assert by_seq.returncode == 0, by_seq.stderr  # SEQ then TEXT
    with Client("check", broker.endpoint) as check:
        (room,) = [r for r in check.list_rooms() if r.name == "ci"]
        assert room.seq == head + 3  # an event each, and no join or leave around them
        page = check.history("ci", external=True)
        assert [m.text for m in page.messages if m.seq == second] == ["45 passed"]
    mine = run_cli(tmp_path, "edit", "--port", port, "--user", "ci-bot", "ci", str(theirs), "x")
    assert mine.returncode == 1
    assert "not_yours" in mine.stderr
    nothing = run_cli(tmp_path, "delete", "--port", port, "--user", "nobody", "ci")
    assert nothing.returncode == 1
    assert "nobody has no message" in nothing.stderr
    unnamed = run_cli(tmp_path, "delete", "--port", port, "ci")
    assert unnamed.returncode == 2
    assert "--user" in unnamed.stderr
