"""A room's head given by a welcome, against what the client delivered meanwhile
(client/core/rooms.py)."""

from __future__ import annotations

import logging

import pytest

from zmqchat.client.core.rooms import FollowedRooms
from zmqchat.common.messages import ChatEvent
from zmqchat.common.protocol import room_topic

pytestmark = pytest.mark.timeout(10)


def _rooms() -> FollowedRooms:
    rooms = FollowedRooms(lambda action: None, lambda request, now: None)
    rooms.at_head("general", 2)  # joined at seq 2
    return rooms


def _event(rooms: FollowedRooms, seq: int) -> list[int]:
    event = ChatEvent(room="general", seq=seq, sender="watch", text=f"line {seq}", ts=0.0)
    return [e.seq for e in rooms.on_event(room_topic("general"), event, 0.0)]


def test_events_published_after_a_resumes_answer_are_the_same_history(caplog) -> None:
    """A broker restarts; our SUB, still subscribed, brings seq 4 before the welcome
    that our register got, written at seq 3. Nothing is wrong, nothing starts over:
    seq 4 is not delivered a second time when history brings it again."""
    rooms = _rooms()
    assert _event(rooms, 3) == [3]
    rooms.asking(fresh=True)  # the register, sent at seq 3
    assert _event(rooms, 4) == [4]
    with caplog.at_level(logging.WARNING, logger="zmqchat"):
        assert rooms.at_head("general", 3) == []
    assert caplog.records == []
    assert _event(rooms, 4) == []
    assert _event(rooms, 5) == [5]


def test_a_head_behind_what_we_had_when_we_asked_is_another_history(caplog) -> None:
    rooms = _rooms()
    assert _event(rooms, 3) == [3]
    assert _event(rooms, 4) == [4]
    rooms.asking(fresh=True)
    with caplog.at_level(logging.WARNING, logger="zmqchat"):
        assert rooms.at_head("general", 3) == []
    assert "the broker is at seq 3, before our 4" in caplog.text
    assert _event(rooms, 4) == [4]  # followed from the broker's head: its seq 4 is new


def test_a_later_head_is_judged_without_the_old_ask(caplog) -> None:
    rooms = _rooms()
    rooms.asking(fresh=True)
    assert rooms.at_head("general", 2) == []  # the welcome
    assert _event(rooms, 3) == [3]
    with caplog.at_level(logging.WARNING, logger="zmqchat"):
        rooms.at_head("general", 2)  # a joined behind us, with no register since
    assert "before our 3" in caplog.text


def test_more_rooms_than_the_broker_grants_subscriptions_is_warned_of_once(caplog) -> None:
    actions: list[tuple[str, object]] = []
    rooms = FollowedRooms(actions.append, lambda request, now: None)
    for name in ("a", "b"):
        rooms.at_head(name, 1)
    with caplog.at_level(logging.WARNING, logger="zmqchat"):
        rooms.connect(5556, "t" * 32, limit=3)  # the broker-wide topic, a and b: fits
        assert caplog.records == []
        rooms.at_head("c", 1)  # joined: one past the limit
        rooms.at_head("d", 1)
    asked = [request for kind, request in actions if kind == "subscribe"]
    assert len(asked) == 5  # asked all the same: the broker decides
    assert [r.getMessage() for r in caplog.records] == [
        "in 3 rooms, but the broker grants one connection at most 3 subscriptions "
        "(its max_subscriptions): events of the rooms past it will not arrive"
    ]
