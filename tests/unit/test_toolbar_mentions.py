"""The console's toolbar, driven through the chat's plain state objects (no screen,
no broker): per conversation, how many unread lines name the user (``#ops 2@``),
apart from the unread counts, and cleared when the user goes to look."""

from __future__ import annotations

from zmqchat.client.chat.formatting import plain
from zmqchat.client.chat.state import ChatState
from zmqchat.client.chat.toolbar import format_toolbar, state_toolbar
from zmqchat.common.messages import ChatEvent, PmEvent


def in_rooms(*rooms: str) -> ChatState:
    state = ChatState("alice")
    for n, room in enumerate(rooms):
        state.begin_join(room)
        state.joined(room, 10, ["alice", "bob"], switch=n == 0)
        state.finish_loading(room)
    return state


def chat(room: str, seq: int, text: str) -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender="bob", text=text, ts=1.0)


def parts(state: ChatState) -> list[str]:
    return plain(state_toolbar(state)).strip().split(" │ ")


def test_mentions_are_counted_per_conversation_apart_from_unread_lines():
    state = in_rooms("general", "ops", "dev")
    assert parts(state) == ["alice", "#general", "connecting…"]
    state.apply(chat("ops", 11, "@alice can you look?"))
    state.apply(chat("ops", 12, "the disk is full"))
    state.apply(chat("ops", 13, "alice: now please"))
    state.apply(chat("dev", 11, "nothing for alice's eyes"))  # names her too
    state.apply(chat("dev", 12, "a plain line"))
    state.apply(chat("general", 11, "@alice here"))  # looked at: counts nothing
    state.apply(PmEvent(id=1, sender="Carol", to="alice", text="psst", ts=1.0))
    assert parts(state) == [
        "alice",
        "#general",
        "#dev 1@, #ops 2@, @Carol 1@",
        "unread: #dev 2, #ops 3, @Carol 1",
        "connecting…",
    ]


def test_looking_at_a_conversation_clears_its_counts():
    state = in_rooms("general", "ops")
    state.apply(chat("ops", 11, "@alice ping"))
    state.apply(chat("ops", 12, "@alice ping again"))
    state.apply(PmEvent(id=1, sender="bob", to="alice", text="hi alice", ts=1.0))
    assert "#ops 2@, @bob 1@" in parts(state)
    assert state.switch("ops")
    assert parts(state) == ["alice", "#ops", "@bob 1@", "unread: @bob 1", "connecting…"]
    assert state.view("@bob")
    assert parts(state) == ["alice", "@bob", "connecting…"]
    state.apply(chat("general", 11, "@alice back here"))
    assert parts(state)[2:4] == ["#general 1@", "unread: #general 1"]
    state.end_query()  # back to the room: #ops, so #general's counts stay
    assert parts(state)[1:3] == ["#ops", "#general 1@"]
    assert state.switch("general")
    assert parts(state) == ["alice", "#general", "connecting…"]


def test_the_mention_counts_have_a_style_of_their_own():
    bar = format_toolbar("alice", "general", {}, "connected", mentions={"#ops": 2, "#dev": 0})
    assert ("class:toolbar.mention", "#ops 2@") in bar
    assert "#dev" not in plain(bar)
