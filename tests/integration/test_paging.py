"""`who` and `rooms` answer in pages (additive to v1), so no reply grows with the
size of the broker; the library asks for every page in turn."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.aio import AsyncClient
from zmqchat.common.messages import RoomInfo
from zmqchat.common.protocol import LIST_DEFAULT_LIMIT
from zmqchat.pytest_plugin import BrokerFactory

pytestmark = pytest.mark.timeout(60)


def test_rooms_and_who_answer_in_pages(make_broker: BrokerFactory) -> None:
    broker = make_broker(rate_limit=0)
    peer = RawPeer(broker.endpoint)
    try:
        names = [f"r{i:04d}" for i in range(LIST_DEFAULT_LIMIT + 20)]
        peer.register("Walker", rooms=[])
        for name in names:
            assert peer.request({"type": "join", "room": name})["type"] == "joined"
        first = peer.request({"type": "rooms"})  # a v1 request: the first page
        assert [r["name"] for r in first["rooms"]] == names[:LIST_DEFAULT_LIMIT]
        assert first["more"] is True
        rest = peer.request({"type": "rooms", "after": names[LIST_DEFAULT_LIMIT - 1]})
        assert [r["name"] for r in rest["rooms"]] == names[LIST_DEFAULT_LIMIT:]
        assert "more" not in rest  # the last page says nothing more
        small = peer.request({"type": "rooms", "after": "r0009", "limit": 3})
        assert [r["name"] for r in small["rooms"]] == ["r0010", "r0011", "r0012"]
        bad = peer.request({"type": "rooms", "limit": 0})
        assert bad["code"] == "bad_request"
        with Client("alice", broker.endpoint) as alice:
            assert [r.name for r in alice.list_rooms() if r.name != "general"] == names
            users = alice.who()
            assert users == ["alice", "Walker"]
            page = peer.request({"type": "who", "after": "ALICE", "limit": 1})
            assert page["users"] == ["Walker"]
            assert "more" not in page
            first_user = peer.request({"type": "who", "limit": 1})
            assert (first_user["users"], first_user["more"]) == (["alice"], True)
    finally:
        peer.close()


def test_the_async_client_gathers_every_page(make_broker: BrokerFactory) -> None:
    broker = make_broker(rate_limit=0)
    peer = RawPeer(broker.endpoint)

    async def listing() -> list[RoomInfo]:
        async with AsyncClient("bob", broker.endpoint, rooms=[]) as bob:
            return await bob.list_rooms()

    try:
        peer.register("walker", rooms=[f"x{i:04d}" for i in range(100)])
        for i in range(100, LIST_DEFAULT_LIMIT + 5):
            assert peer.request({"type": "join", "room": f"x{i:04d}"})["type"] == "joined"
        rooms = asyncio.run(asyncio.wait_for(listing(), 30))
        assert len(rooms) == LIST_DEFAULT_LIMIT + 5
    finally:
        peer.close()
