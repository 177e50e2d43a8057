"""ClientCore and the room events added after v1: topic and moderation events are
delivered in their place in the room's order; an event of a type this client does
not know takes its seq without being handed on, so gap filling never waits for it
(live or from history, last in the room or not); and a kick or ban of this client,
said over ROUTER, ends its following of the room."""

from __future__ import annotations

from typing import Any

import msgpack
from tests.unit.test_connection import (
    SYNC_PING_DELAY,
    chat_event,
    connected,
    publish,
    reply,
    sent,
    take_actions,
    take_events,
)

from zmqchat.client.core.connection import ClientCore
from zmqchat.common.codec import encode
from zmqchat.common.messages import ChatEvent, HistoryPage, Pong, Users
from zmqchat.common.moderation import ModerationEvent, TopicEvent, UnknownEvent
from zmqchat.common.parsing import parse_message
from zmqchat.common.requests import Who


def newer(seq: int, room: str = "general") -> dict[str, Any]:
    """An event of a type this client does not know, as a newer broker sends it."""
    return {"type": "reaction", "room": room, "seq": seq, "from": "bob", "of": 2, "emoji": "+1"}


def publish_raw(core: ClientCore, event: dict[str, Any], now: float = 1.0) -> None:
    core.on_publish(event["room"].encode() + b"\x00", msgpack.packb(event), now)


def ping_with_heads(core: ClientCore, heads: dict[str, int], now: float) -> None:
    """Make the core ping, and answer it with ``heads``."""
    ref = core.submit(Who(), None, now)
    sent(core)
    core.on_frame(reply(Users(users=(), ref=ref)), now)
    core.tick(now + SYNC_PING_DELAY)
    (ping,) = sent(core)
    core.on_frame(reply(Pong(heads=heads, ref=ping["ref"])), now + SYNC_PING_DELAY)


def test_topic_and_moderation_events_come_in_the_rooms_order() -> None:
    core = connected({"general": 1})
    events = [
        chat_event(2),
        TopicEvent(room="general", seq=3, sender="bob", text="hello", ts=3.0),
        ModerationEvent(room="general", seq=4, sender="bob", action="lock", ts=4.0),
    ]
    for event in reversed(events[1:]):  # seq 2 missed: held until the gap is filled
        publish(core, event)
    assert take_events(core) == []
    (fetch,) = sent(core)
    page = HistoryPage(messages=tuple(events), more=False, room="general", ref=fetch["ref"])
    core.on_frame(reply(page), 1.1)
    assert take_events(core) == events


def test_a_live_event_of_an_unknown_type_fills_its_place_without_a_fetch() -> None:
    core = connected({"general": 1})
    publish_raw(core, newer(2))
    publish(core, chat_event(3))
    assert [e.seq for e in take_events(core)] == [3]
    assert sent(core) == []  # no gap: seq 2 was seen


def test_an_unknown_event_last_in_a_room_is_fetched_once_not_at_every_ping() -> None:
    core = connected({"general": 1})
    publish(core, chat_event(3))  # seq 2 missed: a fetch
    (fetch,) = sent(core)
    assert fetch["after"] == 1
    # The store's answer holds the unknown event (as an older client parses it).
    page = parse_message(
        {
            "type": "history",
            "room": "general",
            "messages": [newer(2), chat_event(3).to_wire(), newer(4)],
            "more": False,
            "ref": fetch["ref"],
        }
    )
    assert isinstance(page, HistoryPage)
    assert [type(e) for e in page.messages] == [UnknownEvent, ChatEvent, UnknownEvent]
    core.on_frame(encode(page), 1.1)
    assert [e.seq for e in take_events(core)] == [3]
    # The head is the unknown event: every ping says 4, and nothing is asked again.
    for now in (2.0, 8.0, 14.0):
        ping_with_heads(core, {"general": 4}, now)
        assert sent(core) == []
    publish(core, chat_event(5), now=20.0)
    assert [e.seq for e in take_events(core)] == [5]


def test_a_malformed_event_of_a_known_type_is_not_taken_for_an_unknown_one() -> None:
    core = connected({"general": 1})
    publish_raw(core, {"type": "chat", "room": "general", "seq": 2})  # no text, no from
    publish(core, chat_event(3))
    assert take_events(core) == []
    (fetch,) = sent(core)
    assert fetch["after"] == 1  # seq 2 is still missing


def test_being_kicked_said_over_router_ends_the_room_once() -> None:
    core = connected({"general": 1, "dev": 1})
    kick = ModerationEvent(
        room="general", seq=2, sender="bob", action="kick", user="alice", reason="x", ts=2.0
    )
    core.on_frame(encode(kick), 2.0)
    assert take_events(core) == [kick]
    assert core.rooms == ("dev",)
    assert ("unsubscribe", b"general\x00") in take_actions(core)
    # The same event on PUB, and the presence leave after it: the room is gone.
    publish(core, kick)
    publish(core, chat_event(3))
    assert take_events(core) == []


def test_a_kick_already_delivered_on_pub_is_not_handed_on_twice() -> None:
    core = connected({"general": 1})
    ban = ModerationEvent(room="general", seq=2, sender="bob", action="ban", user="ALICE", ts=2.0)
    publish(core, ban)
    assert take_events(core) == [ban]
    core.on_frame(encode(ban), 2.0)
    assert take_events(core) == []
    assert core.rooms == ()


def test_other_moderation_over_router_changes_nothing() -> None:
    core = connected({"general": 1})
    for event in (
        ModerationEvent(room="general", seq=2, sender="bob", action="kick", user="carol", ts=2.0),
        ModerationEvent(room="general", seq=2, sender="bob", action="op", user="alice", ts=2.0),
        ModerationEvent(room="ops", seq=2, sender="bob", action="kick", user="alice", ts=2.0),
    ):
        core.on_frame(encode(event), 2.0)
    assert take_events(core) == []
    assert core.rooms == ("general",)
