"""``search`` against real brokers: last week's message (stored while the broker was
stopped, since it stamps new events with the present) is found through the client
library, newest first, and by its latest text once edited; ``zmqchat search``
prints the matches and exits as grep does (0 with matches, 1 without)."""

from __future__ import annotations

import json
import time

import pytest
from tests.cli_helpers import run_cli

from zmqchat import Client
from zmqchat.broker.store import Store

pytestmark = pytest.mark.timeout(60)


def test_last_weeks_message_is_found_and_an_edit_by_its_new_words(broker, tmp_path):
    broker.stop()
    last_week = time.time() - 7 * 24 * 3600
    store = Store(broker.db)
    store.add_chat("general", 1, last_week, "carol", "the outage postmortem is up", None, 1, None)
    store.add_chat("ops", 1, last_week + 60, "carol", "outage in ops, unrelated", None, 1, None)
    store.commit()
    store.close()
    broker.start()
    with Client("alice", broker.endpoint, rooms=["general"]) as alice:
        ack = alice.send("general", "another outage today")
        found = alice.search("Outage")
        assert [(m.text, m.room) for m in found.matches] == [
            ("another outage today", "general"),
            ("the outage postmortem is up", "general"),
        ]  # ops: alice is not in it
        assert found.matches[1].ts == pytest.approx(last_week)
        assert not found.more
        everywhere = alice.search("outage", external=True)
        assert [m.room for m in everywhere.matches] == ["general", "ops", "general"]
        alice.edit("general", ack.seq, "another incident today")
        assert [m.text for m in alice.search("outage").matches] == ["the outage postmortem is up"]
        (edited,) = alice.search("incident").matches
        assert (edited.seq, edited.edited is not None) == (ack.seq, True)


def test_zmqchat_search_prints_matches_and_exits_as_grep(broker, tmp_path):
    port = str(broker.port)
    with Client("bob", broker.endpoint, rooms=["ci"]) as bob:
        bob.send("ci", "build 41 failed")
        bob.send("ci", "build 42 passed", data={"build": 42})
    hit = run_cli(tmp_path, "search", "--port", port, "build", "passed")
    assert hit.returncode == 0, hit.stderr
    (line,) = hit.stdout.splitlines()
    assert line.endswith('#ci <bob> build 42 passed {"build": 42}')
    as_json = run_cli(tmp_path, "search", "--port", port, "--json", "--room", "ci", "build")
    assert as_json.returncode == 0, as_json.stderr
    texts = [json.loads(line)["text"] for line in as_json.stdout.splitlines()]
    assert texts == ["build 42 passed", "build 41 failed"]
    miss = run_cli(tmp_path, "search", "--port", port, "deployed")
    assert (miss.returncode, miss.stdout, miss.stderr) == (1, "", "")
    quiet = run_cli(tmp_path, "search", "--port", port, "-q", "failed")
    assert (quiet.returncode, quiet.stdout) == (0, "")
    refused = run_cli(tmp_path, "search", "--port", port, "--room", "nowhere", "build")
    assert refused.returncode == 1
    assert "no_such_room" in refused.stderr
