"""The chat UI's state, driven without a screen or a broker."""

from __future__ import annotations

from zmqchat.client.chat.state import ChatState
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent, SystemEvent


def chat(room: str, seq: int, text: str = "x", sender: str = "bob") -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender=sender, text=text, ts=1.0)


def presence(room: str, seq: int, user: str, event: str) -> PresenceEvent:
    return PresenceEvent(room=room, seq=seq, user=user, event=event, ts=1.0)


def in_rooms(*rooms: str) -> ChatState:
    state = ChatState("alice")
    for n, room in enumerate(rooms):
        state.begin_join(room)
        state.joined(room, 10, ["alice", "bob"], switch=n == 0)
        assert state.finish_loading(room) == []
    return state


def test_first_joined_room_is_current_and_join_switches():
    state = in_rooms("general", "dev")
    assert state.current == "general"
    assert state.joined_rooms() == ["general", "dev"]
    state.begin_join("ops")
    state.joined("ops", 3, ["alice"])
    assert state.current == "ops"


def test_live_events_wait_for_the_history_and_none_is_shown_twice():
    state = ChatState("alice")
    state.begin_join("general")
    # Live events arrive while the UI is still fetching the room's history.
    assert state.apply(chat("general", 12)) == []
    assert state.apply(chat("general", 11)) == []
    assert state.apply(chat("general", 9)) == []  # older than our join: history has it
    state.joined("general", 10, ["alice"])
    assert [e.seq for e in state.finish_loading("general")] == [11, 12]
    # Later duplicates (e.g. after a reconnection) are dropped; new ones pass.
    assert state.apply(chat("general", 12)) == []
    assert [e.seq for e in state.apply(chat("general", 13))] == [13]  # type: ignore[union-attr]


def test_unread_counts_messages_in_other_rooms_until_switched_to():
    state = in_rooms("general", "dev")
    state.apply(chat("dev", 11))
    state.apply(chat("dev", 12))
    state.apply(presence("dev", 13, "carol", "join"))  # presence is not a message
    state.apply(chat("general", 11))
    assert state.unread() == {"dev": 2}
    assert state.switch("dev")
    assert state.unread() == {}
    state.apply(chat("general", 12))
    assert state.unread() == {"general": 1}


def test_members_follow_presence_and_names_complete():
    state = in_rooms("general")
    state.apply(presence("general", 11, "Carol", "join"))
    assert state.members("general") == ["alice", "bob", "Carol"]
    state.apply(presence("general", 12, "bob", "leave"))
    assert state.members("general") == ["alice", "Carol"]
    state.apply(PmEvent(id=1, sender="dave", to="alice", text="hi", ts=1.0))
    assert state.users() == ["Carol", "dave"]  # not ourselves


def test_leaving_the_current_room_moves_to_another():
    state = in_rooms("general", "dev")
    state.left("general")
    assert state.current == "dev"
    state.left("dev")
    assert state.current is None
    assert not state.switch("dev")


def test_a_failed_join_leaves_nothing_behind():
    state = in_rooms("general")
    state.begin_join("secret")
    state.abort_join("secret")
    assert state.joined_rooms() == ["general"]
    assert "secret" not in state.rooms


def test_connection_changes_are_news_except_the_first_connect():
    state = ChatState("alice")
    assert state.apply(StatusEvent(state="connected")) == []
    assert state.connection == "connected"
    lost = StatusEvent(state="reconnecting", reason="connection lost")
    assert state.apply(lost) == [lost]
    assert state.connection == "reconnecting"
    back = StatusEvent(state="connected", resumed=True)
    assert state.apply(back) == [back]


def test_other_events_pass_through():
    state = ChatState("alice")
    notice = SystemEvent(text="shutting down", ts=1.0)
    assert state.apply(notice) == [notice]
    assert state.apply(chat("elsewhere", 1)) == [chat("elsewhere", 1)]
