"""BrokerState keeps the names of its rooms sorted as rooms come and go, so a page
of `rooms` starts with a bisect (broker/queries.py) instead of a sort of them all."""

from __future__ import annotations

import random
from pathlib import Path

from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.state import BrokerState, Room, Session
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig
from zmqchat.common.messages import RoomInfo, RoomList


def session(i: int) -> Session:
    return Session(sid=i, token=f"t{i}", user=f"u{i}", key=f"u{i}", rid=None, last_seen=0.0)


def test_room_names_stay_sorted_through_joins_leaves_and_sessions_ending() -> None:
    rng = random.Random(14)
    state = BrokerState()
    people = [session(i) for i in range(20)]
    for person in people:
        state.add(person)
    for _ in range(3000):
        person = rng.choice(people)
        name = f"r{rng.randrange(200)}"
        action = rng.random()
        if action < 0.55:
            state.join(person, state.rooms.get(name) or Room(name=name, seq=0))
        elif action < 0.95:
            state.leave(person, name)
        elif person.key in state.by_key:
            state.remove(person)
            fresh = session(person.sid + 1000)
            people[people.index(person)] = fresh
            state.add(fresh)
        assert state.room_names == sorted(state.rooms)
    assert state.room_names  # some rooms still have members
    state.clear()
    assert state.room_names == []


def test_a_rooms_page_is_what_the_records_would_send(tmp_path: Path) -> None:
    # queries.rooms builds RoomInfo's maps directly, for speed: the same maps.
    core = BrokerCore(BrokerConfig(), Store(str(tmp_path / "s.db")), pub_port=1)
    try:
        core.handle(b"a", encode({"type": "register", "user": "ann", "proto": 1}), 1.0)
        core.handle(b"a", encode({"type": "join", "room": "secret", "private": True}), 1.0)
        core.handle(b"b", encode({"type": "register", "user": "bob", "proto": 1}), 1.0)
        core.out.clear()
        core.handle(b"a", encode({"type": "rooms", "limit": 1, "ref": 5}), 1.0)
        core.handle(b"a", encode({"type": "rooms", "after": "general", "ref": 6}), 1.0)
        got = [decode(body) for _rid, body in core.out.replies]
        general, secret = (core.state.rooms[name] for name in ("general", "secret"))
        pages = [
            RoomList(rooms=(RoomInfo("general", 2, general.seq),), more=True, ref=5),
            RoomList(rooms=(RoomInfo("secret", 1, secret.seq, private=True),), ref=6),
        ]
        assert got == [decode(encode(page)) for page in pages]
    finally:
        core.close()
        core.store.close()
