"""BrokerState keeps the names of its rooms sorted as rooms come and go, so a page
of `rooms` starts with a bisect (broker/queries.py) instead of a sort of them all."""

from __future__ import annotations

import random

from zmqchat.broker.state import BrokerState, Room, Session


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
