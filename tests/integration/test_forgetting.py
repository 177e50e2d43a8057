"""What the broker forgets so no peer can make it remember without bound: a room
nobody is in and nobody chatted in, and a name that was never an account."""

from __future__ import annotations

import sqlite3

import pytest
from tests.helpers import RawPeer

from zmqchat.pytest_plugin import BrokerFactory
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(60)


def stored_rooms(db: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT room FROM events")}


def test_a_room_nobody_chatted_in_is_forgotten_once_empty(make_broker: BrokerFactory) -> None:
    broker = make_broker(forget_rooms_after=0.5)
    peer = RawPeer(broker.endpoint)
    try:
        peer.register("wanderer", rooms=["general"])
        for room in ("passing", "talked-in"):
            assert peer.request({"type": "join", "room": room})["type"] == "joined"
        assert peer.request({"type": "chat", "room": "talked-in", "text": "hi"})["type"] == "ack"
        for room in ("passing", "talked-in"):
            assert peer.request({"type": "leave", "room": room})["type"] == "left"
        wait_until(lambda: "passing" not in stored_rooms(broker.db), 10, "the empty room forgotten")
        assert {"general", "talked-in"} <= stored_rooms(broker.db)
        # Joined again, it starts afresh.
        assert peer.request({"type": "join", "room": "passing"})["seq"] == 1
    finally:
        peer.close()


def test_a_name_that_was_never_an_account_is_forgotten(make_broker: BrokerFactory) -> None:
    broker = make_broker(forget_names_after=0.5)
    ghost, peer = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
    try:
        ghost.register("ghost")
        assert ghost.request({"type": "bye"})["type"] == "bye"
        peer.register("peer")
        first = peer.request({"type": "pm", "to": "ghost", "text": "are you there?"})
        assert first["code"] == "user_offline"

        def forgotten() -> bool:
            reply = peer.request({"type": "pm", "to": "ghost", "text": "are you there?"})
            return bool(reply["code"] == "no_such_user")

        wait_until(forgotten, 10, "ghost's name forgotten", interval=0.2)
    finally:
        ghost.close()
        peer.close()
