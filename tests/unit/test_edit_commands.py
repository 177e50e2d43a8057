"""``/edit`` and ``/delete`` as typed, the chat model's memory of our
own messages, and how edits and deletes look: pure, without a broker."""

from __future__ import annotations

import dataclasses

from zmqchat.client.chat.commands import (
    DeleteMessage,
    EditMessage,
    Invalid,
    SearchMessages,
    parse_input,
)
from zmqchat.client.chat.formatting import format_event, message_mark, plain
from zmqchat.client.chat.state import OWN_KEPT, ChatState
from zmqchat.client.gui.transcript import to_row
from zmqchat.common.messages import ChatEvent, DeleteEvent, EditEvent

TS = 1_700_000_000.0


def test_edit_takes_an_optional_seq_before_the_text() -> None:
    assert parse_input("/edit the right text") == EditMessage(None, "the right text")
    assert parse_input("/edit 42 the right text") == EditMessage(42, "the right text")
    # A number alone is the new text, not a seq with nothing to say.
    assert parse_input("/edit 42") == EditMessage(None, "42")
    assert isinstance(parse_input("/edit"), Invalid)
    assert isinstance(parse_input("/edit   "), Invalid)


def test_search_takes_the_rest_of_the_line() -> None:
    assert parse_input("/search  build  failed ") == SearchMessages("build  failed")
    assert isinstance(parse_input("/search"), Invalid)


def test_delete_takes_an_optional_seq() -> None:
    assert parse_input("/delete") == DeleteMessage(None)
    assert parse_input("/delete 7") == DeleteMessage(7)
    for bad in ("/delete seven", "/delete 0", "/delete 1 2", "/delete -3"):
        assert isinstance(parse_input(bad), Invalid), bad


def chat(seq: int, sender: str, text: str = "hi", **extra: object) -> ChatEvent:
    return ChatEvent(room="general", seq=seq, sender=sender, text=text, ts=TS, **extra)  # type: ignore[arg-type]


def test_the_state_remembers_our_last_message_in_each_room() -> None:
    state = ChatState("alice")
    state.joined("general", 2, ["alice", "bob"])
    state.finish_loading("general")
    assert state.last_own("general") is None
    state.apply(chat(3, "Alice"))
    state.apply(chat(4, "bob"))
    assert state.last_own("general") == 3
    state.apply(chat(5, "alice"))
    assert state.last_own("general") == 5
    # An edit is not a message of ours; a delete takes ours away.
    state.apply(EditEvent(room="general", seq=6, sender="alice", of=5, text="x", ts=TS))
    assert state.last_own("general") == 5
    state.apply(DeleteEvent(room="general", seq=7, sender="alice", of=5, ts=TS))
    assert state.last_own("general") == 3
    # Edits and deletes are not unread messages.
    state.joined("dev", 1, ["alice"], switch=False)
    state.finish_loading("dev")
    state.apply(EditEvent(room="general", seq=8, sender="bob", of=4, text="x", ts=TS))
    state.switch("dev")
    state.apply(DeleteEvent(room="general", seq=9, sender="bob", of=4, ts=TS))
    assert state.unread() == {}


def test_edits_deletes_and_changed_messages_say_so() -> None:
    edit = EditEvent(room="general", seq=6, sender="alice", of=5, text="fixed", ts=TS)
    assert plain(format_event(edit, now=TS)).endswith("#general ✎ alice edited message 5: fixed")
    delete = DeleteEvent(room="general", seq=7, sender="alice", of=5, ts=TS)
    assert plain(format_event(delete, now=TS)).endswith("✗ alice deleted message 5")
    edited = plain(format_event(chat(5, "alice", "fixed", edited=TS + 1), now=TS))
    assert edited.endswith("<alice> fixed (edited)")
    deleted = plain(format_event(chat(5, "alice", "", deleted=True), now=TS))
    assert deleted.endswith("<alice> (message deleted)")


def test_the_state_keeps_the_latest_text_of_our_messages() -> None:
    state = ChatState("alice")
    state.joined("general", 2, ["alice", "bob"])
    state.finish_loading("general")
    state.apply(chat(3, "alice", "helo"))
    state.apply(chat(4, "bob", "hi"))
    assert state.own_text("general", 3) == "helo"
    assert state.own_text("general", 4) is None  # bob's
    assert state.own_text("dev", 3) is None
    state.apply(EditEvent(room="general", seq=5, sender="alice", of=3, text="hello", ts=TS))
    assert state.own_text("general", 3) == "hello"
    state.apply(DeleteEvent(room="general", seq=6, sender="alice", of=3, ts=TS))
    assert state.own_text("general", 3) is None
    # The newest OWN_KEPT are remembered; the oldest go first.
    for seq in range(10, 11 + OWN_KEPT):
        state.apply(chat(seq, "alice", f"m{seq}"))
    assert state.own_text("general", 10) is None
    assert state.own_text("general", 11) == "m11"
    assert state.last_own("general") == 10 + OWN_KEPT


def test_a_line_names_the_message_it_shows_and_a_gui_row_keeps_it() -> None:
    said, bob = chat(5, "alice", "two\nlines"), chat(6, "bob")
    assert message_mark(said) == ("class:msg.5", "")
    edit = EditEvent(room="general", seq=7, sender="alice", of=5, text="x", ts=TS)
    assert message_mark(edit) == ("class:msg.5", "")
    assert message_mark(DeleteEvent(room="general", seq=8, sender="alice", of=5, ts=TS)) is None
    assert message_mark(chat(5, "alice", "", deleted=True)) is None
    for event, seq in ((said, 5), (bob, 6), (edit, 5)):
        line = format_event(event, now=TS, compact=True, multiline=True, history=True)
        mark = message_mark(event)
        assert mark is not None
        row = to_row([mark, *line], "all")
        assert row.message == seq
        assert row == dataclasses.replace(to_row(line, "all"), message=seq)  # nothing drawn
