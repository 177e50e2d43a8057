"""Forgetting thousands of rooms that come due together takes many short turns of
the loop, not one long one (make attack's many-rooms row: a 0.4 s turn)."""

from __future__ import annotations

import pytest

from zmqchat.broker.forgetting import Forgetting
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.room_events import RoomEvents
from zmqchat.broker.state import BrokerState
from zmqchat.broker.store import Store

pytestmark = pytest.mark.timeout(60)

ROOMS = 3000


def forgotten(store: Store, numbers: range) -> int:
    return sum(store.room_head(f"r{i}") == 0 for i in numbers)


def test_rooms_due_together_are_forgotten_a_budget_at_a_time(tmp_path):
    store = Store(str(tmp_path / "b.db"))
    state = BrokerState()
    for i in range(ROOMS):
        store.add_presence(f"r{i}", 1, 1.0, "al", "join", None)
        store.add_presence(f"r{i}", 2, 2.0, "al", "leave", None)
    store.commit()
    events = RoomEvents(store, Outbox())
    forgetting = Forgetting(state, store, events, rooms_after=10.0, names_after=1e9)
    state.emptied.update(f"r{i}" for i in range(ROOMS // 2))
    forgetting.note(100.0)
    state.emptied.update(f"r{i}" for i in range(ROOMS // 2, ROOMS))
    forgetting.note(105.0)
    assert forgetting.next_due() == 110.0  # the earliest, without a scan of them all

    forgetting.sweep(111.0)
    store.commit()
    assert forgetting.next_due() == 110.0  # more of the first ones left for the next turn
    gone = forgotten(store, range(ROOMS // 2))
    assert 0 < gone < ROOMS // 2  # some in this turn, not all

    for _ in range(ROOMS):
        forgetting.sweep(111.0)
        if forgetting.next_due() != 110.0:
            break
    store.commit()
    assert forgetting.next_due() == 115.0  # the second half is not due yet
    assert forgotten(store, range(ROOMS // 2)) == ROOMS // 2
    assert forgotten(store, range(ROOMS // 2, ROOMS)) == 0
    store.close()
