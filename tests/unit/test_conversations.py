"""Private conversations, queries and snapshots of the shared chat state, the
``/query`` command, and compact lines (a pane per conversation): no screen, no
broker."""

from __future__ import annotations

from zmqchat.client.chat.commands import Invalid, Query, parse_input
from zmqchat.client.chat.completion import completions
from zmqchat.client.chat.formatting import format_event, plain
from zmqchat.client.chat.state import ChatState, ConversationInfo, private_key, room_key
from zmqchat.client.chat.toolbar import format_toolbar
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent


def chat(room: str, seq: int, text: str = "x", sender: str = "bob") -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender=sender, text=text, ts=1.0)


def pm(sender: str, to: str, text: str = "psst", id: int = 1) -> PmEvent:
    return PmEvent(id=id, sender=sender, to=to, text=text, ts=1.0)


def in_rooms(*rooms: str) -> ChatState:
    state = ChatState("alice")
    for n, room in enumerate(rooms):
        state.begin_join(room)
        state.joined(room, 10, ["alice", "bob"], switch=n == 0)
        state.finish_loading(room)
    return state


def test_keys_name_rooms_and_people_case_insensitively():
    assert room_key("general") == "#general"
    assert private_key("Bob") == private_key("bob") == "@bob"


def test_a_private_message_opens_a_conversation_with_its_own_unread_count():
    state = in_rooms("general")
    state.apply(pm("Bob", "alice"))
    state.apply(pm("Bob", "alice", id=2))
    state.apply(pm("alice", "carol", id=3))  # ours: opens it, counts nothing
    snap = state.snapshot()
    assert snap.conversations == (
        ConversationInfo("#general", "room", "general", 0),
        ConversationInfo("@bob", "private", "Bob", 2, mentions=2),  # each is for us
        ConversationInfo("@carol", "private", "carol", 0),
    )
    assert snap.viewing == "#general"
    assert state.unread() == {}  # the console's toolbar counts rooms only


def test_a_query_sends_plain_lines_privately_and_counts_the_room_as_unread():
    state = in_rooms("general", "dev")
    state.apply(pm("bob", "alice"))
    assert state.view("@bob")
    assert state.viewing() == "@bob"
    assert state.query == "bob"
    assert state.privates["bob"].unread == 0
    state.apply(pm("bob", "alice", id=2))  # looked at: nothing unread
    state.apply(chat("general", 11))  # the room is not looked at now
    assert state.unread() == {"general": 1}
    snap = state.snapshot()
    assert snap.members == ("alice", "bob")
    assert state.view("#general")
    assert state.query is None
    assert state.unread() == {}
    assert not state.view("@nobody")
    assert not state.view("#nowhere")


def test_closing_a_private_conversation_ends_its_query_and_a_new_message_reopens_it():
    state = in_rooms("general")
    state.talk_to("Bob")
    state.close_private("bob")
    assert state.viewing() == "#general"
    assert "bob" not in state.privates
    state.apply(pm("bob", "alice", id=5))
    assert state.privates["bob"].unread == 1
    assert state.users() == ["bob"]  # still completes


def test_members_in_the_snapshot_follow_presence():
    state = in_rooms("general")
    state.apply(PresenceEvent(room="general", seq=11, user="carol", event="join", ts=1.0))
    assert state.snapshot().members == ("alice", "bob", "carol")
    state.apply(PresenceEvent(room="general", seq=12, user="bob", event="leave", ts=1.0))
    assert state.snapshot().members == ("alice", "carol")
    assert state.snapshot().connection == "connecting"


def test_query_command():
    assert parse_input("/query bob") == Query("bob")
    assert parse_input("/query") == Query(None)
    assert isinstance(parse_input("/query bob carol"), Invalid)
    assert isinstance(parse_input("/query b@d"), Invalid)
    assert completions("/query b", rooms=["general"], users=["bob", "carol"]) == ("b", ["bob"])


def test_compact_lines_leave_out_the_room_and_show_a_pm_as_said():
    event = chat("general", 3, "hello سلام 👋")
    assert plain(format_event(event, compact=True)).endswith(" <bob> hello سلام 👋")
    assert "#general" in plain(format_event(event))
    line = format_event(pm("bob", "alice", "psst"), me="alice", compact=True)
    assert plain(line).endswith(" <bob> psst")
    assert ("class:pm.text", "psst") in line
    emote = PmEvent(id=1, sender="bob", to="alice", text="waves", data={"emote": True}, ts=1.0)
    assert plain(format_event(emote, compact=True)).endswith(" * bob waves")
    join = PresenceEvent(room="dev", seq=1, user="bob", event="join", ts=1.0)
    assert plain(format_event(join, compact=True)).endswith(" → bob joined")


def test_the_toolbar_shows_a_query():
    bar = plain(format_toolbar("alice", "general", {}, "connected", query="bob"))
    assert bar.split(" │ ")[1] == "@bob"
