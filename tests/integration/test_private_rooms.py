"""Private rooms against a real broker (issue 13 point 5, the room side): a room made
members-only by the join that creates it, invitations by its operator, what
outsiders are refused and not shown, and all of it after a broker restart."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tests.helpers import RawPeer
from tests.integration.test_bot import run, said_by

from zmqchat import BrokerError, Client
from zmqchat.aio import AsyncClient
from zmqchat.bot import Bot, Context
from zmqchat.client.chat.commands import parse_input
from zmqchat.client.chat.controller import ChatController
from zmqchat.client.chat.formatting import Line, plain
from zmqchat.client.chat.state import ChatState
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def peer_for(broker: BrokerProcess, peers: list[RawPeer], user: str, **fields: Any) -> RawPeer:
    peer = RawPeer(broker.endpoint)
    peers.append(peer)
    peer.register(user, **fields)
    return peer


def error(reply: dict[str, Any], code: str) -> dict[str, Any]:
    assert reply["type"] == "error", reply
    assert reply["code"] == code, reply
    assert reply["message"]
    return reply


def test_a_private_room_admits_its_creator_and_those_it_invites(broker, peers):
    alice = peer_for(broker, peers, "Alice")
    bob = peer_for(broker, peers, "bob")
    carol = peer_for(broker, peers, "carol")
    made = alice.request({"type": "join", "room": "Secret", "private": True})
    assert made == {
        "type": "joined",
        "room": "secret",
        "seq": 1,
        "members": ["Alice"],
        "private": True,
        "epoch": made["epoch"],
        "ref": made["ref"],
    }
    # The room's numbering (docs/protocol.md, `epoch`): one broker's store numbers
    # every room, while the Redis engine gives each room's stream a life of its own.
    if os.environ.get("ZMQCHAT_TEST_ENGINE") == "redis":
        assert made["epoch"] not in ("", alice.welcome["epoch"])
    else:
        assert made["epoch"] == alice.welcome["epoch"]
    error(bob.request({"type": "join", "room": "secret"}), "not_invited")
    # `private: true` of a room that is private already, by someone not invited: same.
    error(bob.request({"type": "join", "room": "secret", "private": True}), "not_invited")
    # Only a member may invite, and of the members only the operator.
    error(carol.request({"type": "invite", "room": "secret", "user": "bob"}), "not_in_room")
    invited = alice.request({"type": "invite", "room": "secret", "user": "Bob"})
    assert invited == {"type": "invited", "room": "secret", "user": "Bob", "ref": invited["ref"]}
    again = alice.request({"type": "invite", "room": "secret", "user": "bob"})
    assert again["type"] == "invited"  # inviting again is no error
    joined = bob.request({"type": "join", "room": "SECRET"})
    assert joined["type"] == "joined"
    assert joined["private"] is True
    assert joined["members"] == ["Alice", "bob"]
    assert joined["epoch"] == made["epoch"]  # one room, one numbering, for everyone
    error(bob.request({"type": "invite", "room": "secret", "user": "carol"}), "not_operator")
    error(carol.request({"type": "join", "room": "secret"}), "not_invited")
    # Public rooms: no invitations, and an existing one can't be made private.
    error(alice.request({"type": "invite", "room": "general", "user": "bob"}), "bad_request")
    error(alice.request({"type": "join", "room": "general", "private": True}), "bad_request")
    public = alice.request({"type": "join", "room": "open"})
    assert "private" not in public
    # A member who left may come back; the room stays private while empty.
    assert bob.request({"type": "leave", "room": "secret"})["type"] == "left"
    assert alice.request({"type": "leave", "room": "secret"})["type"] == "left"
    error(carol.request({"type": "join", "room": "secret", "private": True}), "not_invited")
    assert bob.request({"type": "join", "room": "secret"})["private"] is True


def test_outsiders_are_not_shown_a_private_room_or_its_members(broker, peers):
    alice = peer_for(broker, peers, "alice")
    carol = peer_for(broker, peers, "carol")
    assert alice.request({"type": "join", "room": "hideout", "private": True})["type"] == "joined"
    inside = alice.request({"type": "rooms"})["rooms"]
    assert {"name": "hideout", "members": 1, "seq": 1, "private": True} in inside
    outside = carol.request({"type": "rooms"})["rooms"]
    assert [r["name"] for r in outside] == ["general"]
    assert outside[0]["members"] == 2  # the count is the public room's alone
    error(carol.request({"type": "who", "room": "hideout"}), "not_in_room")
    error(carol.request({"type": "history", "room": "hideout"}), "not_in_room")
    members = alice.request({"type": "who", "room": "hideout"})
    assert members["users"] == ["alice"]
    # A public room nobody is in still answers an empty list, as in v1.
    assert carol.request({"type": "who", "room": "nobody"})["users"] == []


def test_a_register_skips_private_rooms_its_user_may_not_join(broker, peers):
    alice = peer_for(broker, peers, "alice", rooms=[])
    assert alice.request({"type": "join", "room": "den", "private": True})["type"] == "joined"
    # An invitation is by name: dave may come before he ever registered.
    assert alice.request({"type": "invite", "room": "den", "user": "Dave"})["type"] == "invited"
    carol = peer_for(broker, peers, "carol", rooms=["general", "den"])
    assert list(carol.welcome["rooms"]) == ["general"]
    dave = peer_for(broker, peers, "DAVE", rooms=["den", "general"])
    assert list(dave.welcome["rooms"]) == ["den", "general"]
    members = alice.request({"type": "who", "room": "den"})["users"]
    assert members == ["alice", "DAVE"]
    # carol was not put in it: still an outsider.
    error(carol.request({"type": "who", "room": "den"}), "not_in_room")


def test_private_rooms_and_invitations_survive_a_broker_restart(broker, peers):
    alice = peer_for(broker, peers, "alice")
    token = alice.welcome["session"]
    assert alice.request({"type": "join", "room": "vault", "private": True})["type"] == "joined"
    assert alice.request({"type": "invite", "room": "vault", "user": "bob"})["type"] == "invited"
    broker.restart()  # killed: only what was committed is left
    back = peer_for(broker, peers, "alice", resume=token)
    assert back.welcome["session"] == token
    assert "vault" in back.welcome["rooms"]
    carol = peer_for(broker, peers, "carol")
    error(carol.request({"type": "join", "room": "vault"}), "not_invited")
    assert [r["name"] for r in carol.request({"type": "rooms"})["rooms"]] == ["general"]
    bob = peer_for(broker, peers, "bob")
    assert bob.request({"type": "join", "room": "vault"})["private"] is True
    # The creator is still its operator.
    assert back.request({"type": "invite", "room": "vault", "user": "carol"})["type"] == "invited"
    error(bob.request({"type": "invite", "room": "vault", "user": "erin"}), "not_operator")
    assert carol.request({"type": "join", "room": "vault"})["type"] == "joined"


def test_both_client_faces_create_invite_and_raise_the_refusals(broker):
    with Client("alice", broker.endpoint, rooms=[]) as alice, Client("bob", broker.endpoint) as bob:
        joined = alice.join("Lab", private=True)
        assert (joined.room, joined.private, joined.members) == ("lab", True, ("alice",))
        with pytest.raises(BrokerError) as refused:
            bob.join("lab")
        assert refused.value.code == "not_invited"
        invited = alice.invite("lab", "bob")
        assert (invited.room, invited.user) == ("lab", "bob")
        assert bob.join("lab").private is True
        with pytest.raises(BrokerError) as refused:
            bob.invite("lab", "carol")
        assert refused.value.code == "not_operator"
        rooms = {info.name: info.private for info in alice.list_rooms()}
        assert rooms == {"general": None, "lab": True}

    async def asynchronously() -> None:
        async with AsyncClient("erin", broker.endpoint) as erin:
            made = await erin.join("attic", private=True)
            assert made.private is True
            assert (await erin.invite("attic", "frank")).user == "frank"
            with pytest.raises(BrokerError) as refused:
                await erin.invite("general", "frank")
            assert refused.value.code == "bad_request"
            with pytest.raises(BrokerError) as refused:
                await erin.join("lab")
            assert refused.value.code == "not_invited"

    asyncio.run(asynchronously())


def test_create_and_invite_through_the_chat_model(broker):
    shown: list[tuple[str | None, str]] = []
    lock = threading.Lock()

    def emit(line: Line, where: str | None) -> None:
        with lock:
            shown.append((where, plain(line)))

    def lines() -> list[str]:
        with lock:
            return [text for _, text in shown]

    state = ChatState()
    controller = ChatController(state, emit, compact=True)

    def run(line: str) -> bool:
        command = parse_input(line)
        assert command is not None
        return controller.execute(command)

    controller.prepare("alice", ["general"])
    alice = Client("alice", broker.endpoint, on_event=controller.on_event)
    try:
        with Client("bob", broker.endpoint) as bob:
            controller.attach(alice, alice.connect())
            wait_until(lambda: any("you are in #general" in t for t in lines()))
            assert run("/create Attic")
            assert state.current == "attic"
            wait_until(lambda: any("#attic is private" in t for t in lines()))
            with pytest.raises(BrokerError) as refused:
                bob.join("attic")
            assert refused.value.code == "not_invited"
            assert run("/invite bob")  # the current room
            assert any("bob may now join #attic" in t for t in lines())
            assert bob.join("attic").private is True
            # Refusals are error lines with their code.
            assert not run("/invite bob general")
            assert any("(bad_request)" in t for t in lines())
            assert not run("/create general")  # joined, public: refused, no switch
            assert state.current == "attic"
            controller.quitting()
    finally:
        alice.close()


def test_a_bot_creates_a_private_room_and_serves_those_it_invites(broker):
    bot = Bot("keeper", broker.endpoint, rooms=[])

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    async def main() -> None:
        async with bot, AsyncClient("alice", broker.endpoint, rooms=[]) as alice:
            assert (await bot.join("den", private=True)).private is True
            with pytest.raises(BrokerError) as refused:
                await alice.join("den")
            assert refused.value.code == "not_invited"
            await bot.client.invite("den", "alice")
            await alice.join("den")
            await alice.send("den", "!ping")
            assert (await said_by(alice, "keeper", "den")).text == "pong"

    run(main())
