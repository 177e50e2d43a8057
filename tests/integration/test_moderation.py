"""Room topics and moderation on a real broker: a kicked member of a members-only
room really stops receiving (a raw XSUB holding their ticket), kicked and banned
clients learn it and drop the room, topics reach clients, listings and joins; the
chat model both front ends share runs the slash commands; the one-shot commands
and a bot do the same from outside the room."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from tests.cli_helpers import run_cli
from tests.integration.test_members_only import Listener, hears, own_requests, raw_peer
from tests.integration.test_script_commands import one_line_error

from zmqchat import BrokerError, Client, ModerationEvent, TopicEvent
from zmqchat.bot import Bot
from zmqchat.client.chat.commands import parse_input
from zmqchat.client.chat.controller import ChatController
from zmqchat.client.chat.formatting import Line, plain
from zmqchat.client.chat.state import ChatState
from zmqchat.testing import expect, wait_until

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------ the PUB side


@pytest.mark.parametrize("auth", ["accounts", "open-private"])
def test_a_kicked_member_of_a_members_only_room_stops_receiving(
    make_broker: Any, auth: str
) -> None:
    broker = make_broker(auth="open" if auth == "open-private" else auth)
    room = "lab" if auth == "open-private" else "general"
    alice, bob, carol = raw_peer(broker), raw_peer(broker), raw_peer(broker)
    alice.register("alice", rooms=[])
    # alice creates the room, so she is its operator; members-only either way.
    joined = alice.request({"type": "join", "room": room, "private": auth == "open-private"})
    assert joined["type"] == "joined"
    for peer, name in ((bob, "bob"), (carol, "carol")):
        if auth == "open-private":
            alice.request({"type": "invite", "room": room, "user": name})
        peer.register(name, rooms=[])
        assert peer.request({"type": "join", "room": room})["type"] == "joined"
    # bob's subscriber never withdraws its request, as a hostile client's would not.
    spy = Listener(broker, *own_requests(bob, room))
    hears(spy, alice, room)
    kicked = alice.request({"type": "kick", "room": room, "user": "bob", "reason": "bye"})
    assert (kicked["type"], kicked["action"]) == ("moderated", "kick")
    told = bob.recv_type("moderation")  # over ROUTER: the PUB side may be cut first
    assert (told["user"], told["reason"], told["seq"]) == ("bob", "bye", kicked["seq"])
    witness = Listener(broker, *own_requests(carol, room))
    hears(witness, alice, room, "after the kick")
    assert "after the kick" not in spy.texts(room, 300)
    # Cut, the spy reconnects and asks again: refused while bob is out ...
    hears(witness, alice, room, "still after")
    assert "still after" not in spy.texts(room, 300)
    # ... and granted once he is back (a kick is not a ban).
    assert bob.request({"type": "join", "room": room})["type"] == "joined"
    hears(spy, alice, room, "welcome back")


def test_a_banned_member_stops_receiving_and_can_not_come_back(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    alice, bob = raw_peer(broker), raw_peer(broker)
    alice.register("alice", rooms=["general"])
    bob.register("bob", rooms=["general"])
    spy = Listener(broker, *own_requests(bob, "general"))
    hears(spy, alice, "general")
    banned = alice.request({"type": "ban", "room": "general", "user": "bob", "duration": 3600})
    assert banned["until"] > 0
    assert bob.recv_type("moderation")["action"] == "ban"
    refused = bob.request({"type": "join", "room": "general"})
    assert refused["code"] == "banned"
    assert 3590 < refused["retry_after"] <= 3600
    hears(Listener(broker, *own_requests(alice, "general")), alice, "general", "without bob")
    assert "without bob" not in spy.texts("general", 300)


# ------------------------------------------------------------ the client library


def test_clients_learn_of_topics_kicks_and_bans(broker: Any) -> None:
    with (
        Client("alice", broker.endpoint, rooms=["general"]) as alice,
        Client("bob", broker.endpoint, rooms=["general", "dev"]) as bob,
    ):
        info = alice.topic("general", "Release day")
        assert (info.text, info.sender) == ("Release day", "alice")
        event = expect(bob, TopicEvent, room="general")
        assert (event.text, event.seq) == ("Release day", info.seq)
        assert bob.topic("general").text == "Release day"
        listing = {r.name: r for r in bob.list_rooms()}
        assert listing["general"].topic == "Release day"
        assert listing["dev"].topic is None
        with Client("carol", broker.endpoint, rooms=[]) as carol:
            assert carol.join("general").topic == "Release day"

        done = alice.kick("general", "bob", "calm down")
        removed = expect(bob, ModerationEvent, action="kick")
        assert (removed.seq, removed.reason) == (done.seq, "calm down")
        wait_until(lambda: bob.rooms == ("dev",), 10, "bob out of general")
        with pytest.raises(BrokerError) as refused:
            bob.send("general", "am I still here?")
        assert refused.value.code == "not_in_room"

        bob.join("general")
        alice.ban("general", "bob", reason="again")
        expect(bob, ModerationEvent, action="ban")
        wait_until(lambda: bob.rooms == ("dev",), 10, "bob out of general again")
        with pytest.raises(BrokerError) as banned:
            bob.join("general")
        assert banned.value.code == "banned"
        # Everything is in the room's history, for whoever missed it.
        kinds = [(e.TYPE, getattr(e, "action", None)) for e in alice.history("general").messages]
        assert ("topic", None) in kinds
        assert kinds[-2:] == [("moderation", "ban"), ("presence", None)]


# ------------------------------------------------- the chat model of both UIs


class Screen:
    """A ChatController for ``user`` with the lines it emits, as a UI shows them."""

    def __init__(self, endpoint: str, user: str, rooms: list[str]) -> None:
        self.shown: list[tuple[str | None, str]] = []
        self._lock = threading.Lock()
        self.state = ChatState()
        self.controller = ChatController(self.state, self._emit, compact=True)
        self.controller.prepare(user, rooms)
        self.client = Client(user, endpoint, rooms=rooms, on_event=self.controller.on_event)
        self.controller.attach(self.client, self.client.connect())

    def _emit(self, line: Line, where: str | None) -> None:
        with self._lock:
            self.shown.append((where, plain(line)))

    def run(self, line: str) -> bool:
        command = parse_input(line)
        assert command is not None
        return self.controller.execute(command)

    def has(self, text: str, where: str | None = "#general") -> bool:
        with self._lock:
            return any(text in line for key, line in self.shown if where in (None, key))

    def waits_for(self, text: str, where: str | None = "#general") -> None:
        wait_until(lambda: self.has(text, where), 10, lambda: f"{text!r} in {self.shown[-8:]}")

    def close(self) -> None:
        self.controller.quitting()
        self.client.close()


def test_the_slash_commands_moderate_and_both_sides_see_it(broker: Any) -> None:
    alice = Screen(broker.endpoint, "alice", ["general"])
    bob = Screen(broker.endpoint, "bob", ["general", "dev"])
    try:
        alice.waits_for("you are in #general")
        assert alice.run("/topic Release day: no merges")
        bob.waits_for("alice set the topic: Release day: no merges")
        assert bob.state.rooms["general"].topic == "Release day: no merges"
        bob.run("/room general")
        assert "Release day: no merges" in plain(bob.controller.toolbar())
        assert bob.controller.snapshot().topic == "Release day: no merges"
        assert alice.run("/lock")
        bob.waits_for("alice locked the topic")
        assert not bob.run("/topic mine")
        bob.waits_for("only its operators may set it (not_operator)")
        assert not bob.run("/kick alice")
        bob.waits_for("(not_operator)")
        assert bob.run("/topic")
        bob.waits_for("#general topic: Release day: no merges (set by alice")
        assert alice.run("/op bob")
        alice.waits_for("alice made bob an operator")
        assert alice.run("/op bob")
        alice.waits_for("bob is an operator of #general already")
        assert alice.run("/deop bob")
        assert alice.run("/ban bob 10m trolling")
        alice.waits_for("alice banned bob for 10m (trolling)")
        # bob sees why, where he looks now, and #general is gone from his list.
        bob.waits_for("alice banned bob for 10m (trolling)", where=None)
        wait_until(lambda: "general" not in bob.state.rooms, 10, "bob's #general gone")
        assert bob.state.current == "dev"
        assert not bob.run("/join general")
        bob.waits_for("(banned)", where=None)
        assert alice.run("/unban bob")
        assert bob.run("/join general")
        bob.waits_for("*** topic: Release day: no merges")  # as the room is entered
        assert bob.state.rooms["general"].topic == "Release day: no merges"
        # A client that connects later has it from its welcome.
        carol = Screen(broker.endpoint, "carol", ["general"])
        try:
            carol.waits_for("*** topic: Release day: no merges")
            assert carol.controller.snapshot().topic == "Release day: no merges"
        finally:
            carol.close()
    finally:
        alice.close()
        bob.close()


# ---------------------------------------------------------- one-shot commands


def test_the_one_shot_commands_topic_kick_ban_and_unban(broker: Any, tmp_path: Any) -> None:
    port = str(broker.port)

    def zmqchat(*args: str, user: str | None = None) -> Any:
        who = ("--user", user) if user else ()
        return run_cli(tmp_path, args[0], "--port", port, *who, *args[1:])

    with Client("alice", broker.endpoint, rooms=["general"]):
        pass  # alice created general, and left it
    with Client("bob", broker.endpoint, rooms=["general"]) as bob:
        none = zmqchat("topic", "general")
        assert (none.returncode, none.stdout) == (0, "")
        assert "#general has no topic" in none.stderr
        assert zmqchat("topic", "general", "Hello", "there").returncode == 0
        assert expect(bob, TopicEvent).text == "Hello there"
        shown = zmqchat("topic", "general")
        assert shown.stdout == "Hello there\n"
        as_json = json.loads(zmqchat("topic", "--json", "general").stdout)
        assert as_json["text"] == "Hello there"
        rooms = zmqchat("rooms")
        assert rooms.stdout.rstrip().endswith("Hello there")
        assert json.loads(zmqchat("rooms", "--json").stdout)[0]["topic"] == "Hello there"
        # Not an operator: refused, status 1, the code named.
        refused = zmqchat("kick", "general", "bob")
        assert refused.returncode == 1
        assert "not_operator" in one_line_error(refused)
        kicked = zmqchat("kick", "general", "bob", "go", "away", user="alice")
        assert kicked.returncode == 0, kicked.stderr
        assert expect(bob, ModerationEvent, action="kick").reason == "go away"
        banned = zmqchat("ban", "--for", "1h", "--json", "general", "bob", user="alice")
        assert json.loads(banned.stdout)["action"] == "ban"
        with pytest.raises(BrokerError) as no:
            bob.join("general")
        assert no.value.code == "banned"
        assert zmqchat("unban", "general", "bob", user="alice").returncode == 0
        again = zmqchat("unban", "general", "bob", user="alice")
        assert (again.returncode, "not banned" in again.stderr) == (0, True)
        bob.join("general")
        missing = zmqchat("topic", "nowhere")
        assert missing.returncode == 1
        assert "no_such_room" in one_line_error(missing)
    # Reading never created it.
    with Client("dave", broker.endpoint, rooms=[]) as dave:
        assert "nowhere" not in [r.name for r in dave.list_rooms()]


# -------------------------------------------------------------------------- bots


def test_a_bot_operates_the_room_it_created(broker: Any) -> None:
    async def scenario() -> None:
        bot = Bot("warden", broker.endpoint, rooms=["lounge"])
        await bot.start()
        try:
            with Client("mallory", broker.endpoint, rooms=["lounge"]) as mallory:
                info = await bot.topic("lounge", "Be nice")
                assert info.seq is not None
                assert expect(mallory, TopicEvent).text == "Be nice"
                done = await bot.ban("lounge", "mallory", 60, "not nice")
                assert done.until is not None
                expect(mallory, ModerationEvent, action="ban")
                assert (await bot.unban("lounge", "mallory")).seq is not None
                assert (await bot.lock("lounge")).action == "lock"
                assert (await bot.topic("lounge")).locked is True
        finally:
            await bot.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
