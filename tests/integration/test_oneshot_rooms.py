"""The one-shot commands as people use them against a real broker: `send` posts
without a join and a leave around each message, and to the default room when given
none; `history` of a misspelt room fails and creates nothing; `rooms` lists every
room with history, members or not; days are told apart in what they print."""

from __future__ import annotations

import json
import time

import pytest
from tests.cli_helpers import run_cli
from tests.integration.test_script_commands import one_line_error

from zmqchat import ChatEvent, Client, PresenceEvent
from zmqchat.broker.store import Store
from zmqchat.testing import expect

pytestmark = pytest.mark.timeout(60)


def test_send_posts_without_joining_so_a_bot_leaves_no_comings_and_goings(broker, tmp_path):
    port = str(broker.port)
    with Client("watch", broker.endpoint, rooms=["ci"]) as watch:
        for n in range(3):  # a bot posting once a minute, one `send` each time
            sent = run_cli(
                tmp_path, "send", "--port", port, "--room", "ci", "--user", "bot", f"b{n}"
            )
            assert sent.returncode == 0, sent.stderr
            said = expect(watch, ChatEvent, room="ci")
            assert (said.sender, said.text) == ("bot", f"b{n}")
        assert watch.who("ci") == ["watch"]
        page = watch.history("ci", limit=50)
    # The room holds the messages and watch's own join: nobody else came or went.
    assert [(e.TYPE, getattr(e, "user", None) or e.text) for e in page.messages] == [
        ("presence", "watch"),
        ("chat", "b0"),
        ("chat", "b1"),
        ("chat", "b2"),
    ]


def test_send_to_a_private_room_needs_an_invitation(broker, tmp_path):
    port = str(broker.port)
    with Client("alice", broker.endpoint, rooms=[]) as alice:
        alice.join("secret", private=True)
        alice.invite("secret", "bob")
        refused = run_cli(
            tmp_path, "send", "--port", port, "--room", "secret", "--user", "eve", "x"
        )
        assert refused.returncode == 1
        assert "not_invited" in one_line_error(refused)
        sent = run_cli(tmp_path, "send", "--port", port, "--room", "secret", "--user", "bob", "hi")
        assert sent.returncode == 0, sent.stderr
        said = expect(alice, ChatEvent, room="secret")
        assert (said.sender, said.text) == ("bob", "hi")
        assert alice.who("secret") == ["alice"]  # bob posted without joining


def test_send_without_room_posts_to_the_default_room(broker, tmp_path):
    port = str(broker.port)
    config = tmp_path / "config" / "zmqchat" / "client.toml"
    with Client("watch", broker.endpoint, rooms=["general", "ops", "lab"]) as watch:
        plain = run_cli(tmp_path, "send", "--port", port, "to", "general")
        assert plain.returncode == 0, plain.stderr
        assert expect(watch, ChatEvent).room == "general"

        from_env = run_cli(tmp_path, "send", "--port", port, "to ops", ZMQCHAT_ROOMS="ops,dev")
        assert from_env.returncode == 0, from_env.stderr
        assert expect(watch, ChatEvent, text="to ops").room == "ops"

        config.parent.mkdir(parents=True)
        config.write_text('rooms = ["Lab", "general"]\n')
        from_file = run_cli(tmp_path, "send", "--port", port, "to lab")
        assert from_file.returncode == 0, from_file.stderr
        assert expect(watch, ChatEvent, text="to lab").room == "lab"

    no_room = run_cli(tmp_path, "send", "--port", port, "hi", ZMQCHAT_ROOMS="")
    assert no_room.returncode == 2
    assert "give --room R" in one_line_error(no_room)


def test_history_of_a_room_that_does_not_exist_fails_and_creates_nothing(broker, tmp_path):
    port = str(broker.port)
    typo = run_cli(tmp_path, "history", "--port", port, "genral")
    assert (typo.returncode, typo.stdout) == (1, "")
    assert "no_such_room" in one_line_error(typo)
    assert "genral" in typo.stderr
    listed = run_cli(tmp_path, "rooms", "--port", port, "--json")
    assert json.loads(listed.stdout) == []  # still no room at all
    with Client("alice", broker.endpoint, rooms=["genral"]) as alice:
        assert alice.ping().heads == {"genral": 1}  # her join is its first event


def test_rooms_lists_every_room_with_history_and_its_member_count(broker, tmp_path):
    port = str(broker.port)
    with Client("alice", broker.endpoint, rooms=["general", "dev"]) as alice:
        alice.send("dev", "anyone?")
        alice.leave("dev")
        sent = run_cli(tmp_path, "send", "--port", port, "--room", "ci", "build 7 passed")
        assert sent.returncode == 0, sent.stderr

        listing = run_cli(tmp_path, "rooms", "--port", port, "--json")
        assert listing.returncode == 0, listing.stderr
        # The shape of before (name, members, seq), now with the rooms nobody is in.
        assert json.loads(listing.stdout) == [
            {"name": "ci", "members": 0, "seq": 1},
            {"name": "dev", "members": 0, "seq": 3},
            {"name": "general", "members": 1, "seq": 1},
        ]
        table = run_cli(tmp_path, "rooms", "--port", port)
        assert [line.split() for line in table.stdout.splitlines()] == [
            ["#ci", "0", "members", "seq", "1"],
            ["#dev", "0", "members", "seq", "3"],
            ["#general", "1", "member", "seq", "1"],
        ]


def test_history_and_tail_mark_the_days(broker, tmp_path):
    # Two days of a room, stored while the broker is stopped (it stamps every new
    # event with the present).
    broker.stop()
    monday = time.mktime((2024, 5, 13, 9, 30, 0, 0, 0, -1))
    tuesday = time.mktime((2024, 5, 14, 17, 5, 0, 0, 0, -1))
    store = Store(broker.db)
    store.add_presence("general", 1, monday - 60, "alice", "join", None)
    store.add_chat("general", 2, monday, "alice", "monday's", None, 1, None)
    store.add_chat("general", 3, tuesday, "alice", "tuesday's", None, 1, None)
    store.add_presence("general", 4, tuesday + 60, "alice", "leave", None)
    store.commit()
    store.close()
    broker.start()
    port = str(broker.port)
    with Client("bob", broker.endpoint, rooms=["general"]) as bob:
        bob.send("general", "today's")

        today = time.strftime("%A %Y-%m-%d")
        marked = [
            "2024-05-13 09:30:00 #general <alice> monday's",
            "─── Tuesday 2024-05-14 ───",
            "2024-05-14 17:05:00 #general <alice> tuesday's",
            f"─── {today} ───",
        ]
        history = run_cli(tmp_path, "history", "--port", port, "general")
        tail = run_cli(tmp_path, "tail", "--port", port, "--last", "3", "--count", "3")
        for printed in (history, tail):
            assert printed.returncode == 0, printed.stderr
            *earlier, newest = printed.stdout.splitlines()
            assert earlier == marked
            clock, said = newest.split(" ", 1)
            assert (len(clock), said) == (8, "#general <bob> today's")  # no date today

        as_json = run_cli(tmp_path, "history", "--port", port, "general", "--json")
        assert [json.loads(line)["text"] for line in as_json.stdout.splitlines()] == [
            "monday's",
            "tuesday's",
            "today's",
        ]  # JSON lines only: no separators
        # `history` read without a trace; `tail` joins what it follows.
        users = {e.user for e in bob.history("general").messages if isinstance(e, PresenceEvent)}
        assert not [name for name in users if name.startswith("history-")], users
