"""ClientCore without sockets: frames, actions and events out; replies, publishes,
link changes and the clock in."""

from __future__ import annotations

from typing import Any

from zmqchat.client.core.connection import CLIENT_NAME, SYNC_PING_DELAY, ClientCore
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.codec import decode, encode
from zmqchat.common.messages import (
    ByeReply,
    ChatAck,
    ChatEvent,
    Closed,
    ErrorReply,
    HistoryPage,
    Joined,
    Left,
    PmEvent,
    Pong,
    PresenceEvent,
    Record,
    SystemEvent,
    Users,
    Welcome,
)
from zmqchat.common.protocol import MAX_TEXT_BYTES
from zmqchat.common.requests import Chat, History, Join, Leave, Who
from zmqchat.errors import BrokerError, ConnectionClosed, ProtocolError, Timeout

TOKEN = "session-token-0123456789abcdef"
PUB_PORT = 6001

Msg = dict[str, Any]


def sent(core: ClientCore) -> list[Msg]:
    """Decode and clear the frames the core wants sent."""
    out = [decode(f, None) for f in core.outgoing]
    core.outgoing.clear()
    return out


def take_actions(core: ClientCore) -> list[tuple[str, Any]]:
    out = list(core.actions)
    core.actions.clear()
    return out


def take_events(core: ClientCore) -> list[Any]:
    out = list(core.events)
    core.events.clear()
    return out


def welcome(
    register: Msg,
    *,
    session: str = TOKEN,
    rooms: dict[str, int] | None = None,
    pub_port: int = PUB_PORT,
    heartbeat: float = 5.0,
    timeout: float = 15.0,
    ticket: str | None = None,
) -> bytes:
    return encode(
        Welcome(
            user=register["user"],
            session=session,
            pub_port=pub_port,
            rooms=dict.fromkeys(register["rooms"], 1) if rooms is None else rooms,
            heartbeat=heartbeat,
            timeout=timeout,
            limits={"text": MAX_TEXT_BYTES},
            server="zmqchat/test",
            ticket=ticket,
            ref=register["ref"],
        )
    )


def reply(record: Record) -> bytes:
    return encode(record)


def connected(rooms: dict[str, int] | None = None, now: float = 0.0, **kwargs: Any) -> ClientCore:
    """A core that registered and got its welcome at ``now``; outputs cleared."""
    core = ClientCore("alice", rooms=tuple(rooms or {"general": 1}), **kwargs)
    core.start(now)
    (register,) = sent(core)
    core.on_frame(welcome(register, rooms=rooms), now)
    assert core.state == "connected"
    take_actions(core)
    take_events(core)
    return core


class Done:
    """A completion callback that records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, result: Any) -> None:
        self.calls.append(result)

    @property
    def result(self) -> Any:
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


def chat_event(seq: int, room: str = "general") -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender="bob", text=f"m{seq}", ts=float(seq))


def publish(core: ClientCore, event: Record, now: float = 1.0, topic: bytes | None = None) -> None:
    room = getattr(event, "room", None)
    if topic is None:
        topic = b"\x00" if room is None else room.encode() + b"\x00"
    core.on_publish(topic, encode(event), now)


def delivered_seqs(core: ClientCore) -> list[int]:
    return [e.seq for e in take_events(core) if isinstance(e, ChatEvent | PresenceEvent)]


# ------------------------------------------------------------------------ register


def test_start_queues_a_register() -> None:
    core = ClientCore("alice", rooms=("General", "dev"))
    assert core.state == "connecting"
    core.start(0.0)
    (register,) = sent(core)
    assert register["type"] == "register"
    assert register["user"] == "alice"
    assert register["proto"] == 1
    assert register["rooms"] == ["general", "dev"]
    assert register["client"] == CLIENT_NAME
    assert CLIENT_NAME.startswith("zmqchat-python/")
    assert isinstance(register["ref"], int)
    # A token of its own, so a welcome lost in a crash does not cost it its name.
    assert len(register["resume"]) >= 22
    assert "password" not in register
    assert core.actions == []
    assert core.events == []


def test_register_carries_client_name_password_and_resume() -> None:
    core = ClientCore("alice", client_name="mybot/2", password="pw", resume=TOKEN)
    core.start(0.0)
    (register,) = sent(core)
    assert register["client"] == f"mybot/2 ({CLIENT_NAME})"
    assert register["password"] == "pw"
    assert register["resume"] == TOKEN


def test_first_register_with_resume_names_the_wanted_rooms() -> None:
    core = ClientCore("alice", rooms=("general", "Dev"), resume=TOKEN)
    core.start(0.0)
    (register,) = sent(core)
    assert register["resume"] == TOKEN
    assert register["rooms"] == ["general", "dev"]


def test_welcome_connects_and_subscribes() -> None:
    core = ClientCore("alice", rooms=("general", "dev"))
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(
        welcome(register, rooms={"general": 7, "dev": 2}, heartbeat=2.0, timeout=9.0), 0.5
    )
    assert core.state == "connected"
    assert take_events(core) == [StatusEvent(state="connected", resumed=False)]
    actions = take_actions(core)
    assert actions[0] == ("sub_connect", PUB_PORT)
    assert actions[1] == ("subscribe", b"\x00")
    assert sorted(actions[2:]) == [("subscribe", b"dev\x00"), ("subscribe", b"general\x00")]
    assert core.session == TOKEN
    assert core.pub_port == PUB_PORT
    assert (core.heartbeat, core.timeout) == (2.0, 9.0)
    assert sorted(core.rooms) == ["dev", "general"]
    assert core.pending == 0
    assert sent(core) == []  # heads are known: nothing to fetch


def test_events_of_a_room_start_after_the_welcome_head() -> None:
    core = connected({"general": 5})
    publish(core, chat_event(5))  # already counted in the head: not ours to deliver
    publish(core, chat_event(6))
    assert delivered_seqs(core) == [6]


def test_name_taken_closes_with_the_error() -> None:
    core = ClientCore("alice")
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(
        reply(ErrorReply(code="name_taken", message="alice is online", ref=register["ref"])), 0.1
    )
    assert core.state == "closed"
    assert isinstance(core.close_error, BrokerError)
    assert core.close_error.code == "name_taken"
    (status,) = take_events(core)
    assert status.state == "closed"
    assert status.error is core.close_error
    done = Done()
    core.submit(Who(), done, 0.2)
    assert isinstance(done.result, ConnectionClosed)
    assert done.result.error is core.close_error
    assert sent(core) == []


def test_already_registered_reply_to_a_duplicate_register_is_ignored() -> None:
    core = ClientCore("alice")
    core.start(0.0)
    core.on_link(False, 0.1)
    core.on_link(True, 0.2)
    first, *rest = sent(core)
    assert rest  # a second register went out when the link came back
    core.on_frame(welcome(first), 0.3)
    core.on_frame(
        reply(ErrorReply(code="already_registered", message="x", ref=rest[-1]["ref"])), 0.3
    )
    assert core.state == "connected"


# ------------------------------------------------------------------------ requests


def test_submit_sends_a_frame_with_a_ref_and_completes_with_the_reply() -> None:
    core = connected()
    done = Done()
    ref = core.submit(Chat(room="general", text="hello"), done, 1.0)
    (frame,) = sent(core)
    assert frame == {"type": "chat", "room": "general", "text": "hello", "ref": ref}
    assert core.pending == 1
    ack = ChatAck(room="general", seq=2, ts=123.0, ref=ref)
    core.on_frame(reply(ack), 1.1)
    assert done.result == ack
    assert core.pending == 0


def test_refs_are_unique() -> None:
    core = connected()
    refs = [core.submit(Who(), None, 1.0) for _ in range(5)]
    assert len(set(refs)) == 5
    assert [f["ref"] for f in sent(core)] == refs


def test_a_reply_with_an_unknown_ref_is_ignored() -> None:
    core = connected()
    done = Done()
    ref = core.submit(Who(), done, 1.0)
    core.on_frame(reply(Users(users=("x",), ref=ref + 100)), 1.1)
    core.on_frame(reply(Users(users=("x",), ref="str-ref")), 1.1)
    assert done.calls == []
    core.on_frame(reply(Users(users=("alice",), ref=ref)), 1.2)
    assert done.result.users == ("alice",)


def test_an_error_reply_becomes_broker_error() -> None:
    core = connected()
    done = Done()
    ref = core.submit(Chat(room="nowhere", text="x"), done, 1.0)
    core.on_frame(reply(ErrorReply(code="not_in_room", message="not in it", ref=ref)), 1.1)
    error = done.result
    assert isinstance(error, BrokerError)
    assert (error.code, error.message, error.ref) == ("not_in_room", "not in it", ref)
    assert core.state == "connected"


def test_a_frame_over_64k_fails_at_once_with_too_long() -> None:
    core = connected()
    done = Done()
    core.submit(Chat(room="general", text="x" * (70 * 1024)), done, 1.0)
    error = done.result
    assert isinstance(error, ProtocolError)
    assert error.code == "too_long"
    assert sent(core) == []
    assert core.pending == 0


def test_requests_before_the_welcome_wait_for_it() -> None:
    core = ClientCore("alice")
    core.start(0.0)
    (register,) = sent(core)
    done = Done()
    ref = core.submit(Who(), done, 0.1)
    assert sent(core) == []
    core.on_frame(welcome(register), 0.2)
    assert [f["ref"] for f in sent(core)] == [ref]


def test_request_deadline_raises_timeout() -> None:
    core = connected(request_timeout=30.0)
    quick, slow = Done(), Done()
    core.submit(Who(), quick, 1.0, timeout=2.0)
    core.submit(Who(), slow, 1.0)
    core.tick(2.9)
    assert quick.calls == []
    core.tick(3.0)
    assert isinstance(quick.result, Timeout)
    assert isinstance(quick.result, TimeoutError)
    assert slow.calls == []
    core.tick(31.0)
    assert isinstance(slow.result, Timeout)


def test_a_reply_after_the_deadline_is_ignored() -> None:
    core = connected()
    done = Done()
    ref = core.submit(Who(), done, 1.0, timeout=1.0)
    core.tick(2.0)
    core.on_frame(reply(Users(users=(), ref=ref)), 2.1)
    assert len(done.calls) == 1
    assert isinstance(done.result, Timeout)


def test_pm_and_system_events_are_handed_over() -> None:
    core = connected()
    pm = PmEvent(id=3, sender="bob", to="alice", text="psst", ts=1.0)
    core.on_frame(reply(pm), 1.0)
    system = SystemEvent(text="going down", ts=2.0)
    publish(core, system)
    assert take_events(core) == [pm, system]


def test_a_pm_handed_over_again_under_its_id_is_dropped() -> None:
    # A retried pm comes back under its original id (protocol.md 5.5): shown once.
    core = connected()
    first = PmEvent(id=7, sender="bob", to="alice", text="once", ts=1.0)
    other = PmEvent(id=8, sender="bob", to="alice", text="once", ts=2.0)
    for pm in (first, first, other, first):
        core.on_frame(reply(pm), 1.0)
    assert take_events(core) == [first, other]


def test_a_pm_stored_again_under_a_new_id_with_the_same_key_is_dropped() -> None:
    # A crash between handing a pm over and storing it: its sender's retry is stored
    # under a new id, with the same key.
    core = connected()
    first = PmEvent(id=7, sender="bob", to="alice", text="once", key="k1", ts=1.0)
    again = PmEvent(id=9, sender="bob", to="alice", text="once", key="k1", ts=2.0)
    other = PmEvent(id=10, sender="bob", to="alice", text="once", key="k2", ts=3.0)
    for pm in (first, again, other):
        core.on_frame(reply(pm), 1.0)
    assert take_events(core) == [first, other]


def test_recent_ids_forget_the_oldest_past_their_size() -> None:
    from zmqchat.client.core.repeats import RecentIds

    ids = RecentIds(2)
    assert [ids.add(n) for n in (1, 2, 1, 3, 1)] == [True, True, False, True, True]


def test_malformed_frames_are_ignored() -> None:
    core = connected()
    core.on_frame(b"\xc1garbage", 1.0)
    core.on_frame(encode({"type": "no-such-type"}), 1.0)
    core.on_publish(b"general\x00", b"\xc1", 1.0)
    core.on_publish(b"general\x00", encode({"type": "chat", "room": "general"}), 1.0)
    assert core.state == "connected"
    assert take_events(core) == []


def test_join_subscribes_once_joined_and_starts_at_the_joined_seq() -> None:
    # Not before: a members-only room is granted only to a member (broker/grants.py).
    core = connected()
    done = Done()
    ref = core.submit(Join(room="Dev"), done, 1.0)
    assert take_actions(core) == []
    (frame,) = sent(core)
    assert frame["room"] == "Dev"
    publish(core, chat_event(3, "dev"))  # the join's seq: ours, not delivered
    publish(core, chat_event(4, "dev"))  # arrives before the reply: held
    assert take_events(core) == []
    core.on_frame(reply(Joined(room="dev", seq=3, members=("alice",), ref=ref)), 1.1)
    assert take_actions(core) == [("subscribe", b"dev\x00")]
    assert isinstance(done.result, Joined)
    assert delivered_seqs(core) == [4]
    assert "dev" in core.rooms


def test_a_refused_join_asks_for_no_topic() -> None:
    core = connected()
    ref = core.submit(Join(room="dev"), Done(), 1.0)
    core.on_frame(reply(ErrorReply(code="invalid_name", message="x", ref=ref)), 1.1)
    assert take_actions(core) == []
    assert "dev" not in core.rooms


def test_leaving_withdraws_the_ticketed_request_before_asking() -> None:
    core = ClientCore("alice", rooms=("general",))
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, rooms={"general": 1}, ticket="t1"), 0.5)
    assert ("subscribe", b"general\x00t1") in take_actions(core)
    # Before asking: the broker cuts a subscriber that still holds a room its
    # session left.
    ref = core.submit(Leave(room="general"), Done(), 1.0)
    assert take_actions(core) == [("unsubscribe", b"general\x00t1")]
    core.on_frame(reply(Left(room="general", ref=ref)), 1.1)
    assert take_actions(core) == []
    assert "general" not in core.rooms


def test_a_refused_leave_reads_the_room_again() -> None:
    core = ClientCore("alice", rooms=("general",))
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, rooms={"general": 1}, ticket="t1"), 0.5)
    take_actions(core)
    ref = core.submit(Leave(room="general"), Done(), 1.0)
    take_actions(core)
    core.on_frame(reply(ErrorReply(code="server_busy", message="x", ref=ref)), 1.1)
    assert take_actions(core) == [("subscribe", b"general\x00t1")]


def test_every_welcome_asks_for_every_topic_again_with_its_ticket() -> None:
    # A restarted broker may have refused what the socket re-sent on reconnecting
    # (with CURVE, before the session resumed): each welcome asks again.
    core = ClientCore("alice", rooms=("general",))
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, rooms={"general": 1}, ticket="t1"), 0.5)
    first = take_actions(core)
    assert first[0] == ("sub_connect", PUB_PORT)
    assert sorted(first[1:]) == [("subscribe", b"\x00"), ("subscribe", b"general\x00t1")]
    ref = core.submit(Chat(room="general", text="hi"), Done(), 1.0)
    core.on_frame(reply(ErrorReply(code="not_registered", message="", ref=ref)), 1.0)
    again = next(frame for frame in sent(core) if frame["type"] == "register")
    core.on_frame(
        welcome(again, rooms={"general": 1}, session="other-token-000000", ticket="t2"), 1.1
    )
    actions = take_actions(core)
    assert sorted(a for a in actions if a[0] == "unsubscribe") == [
        ("unsubscribe", b"\x00"),
        ("unsubscribe", b"general\x00t1"),
    ]
    assert sorted(a for a in actions if a[0] == "subscribe") == [
        ("subscribe", b"\x00"),
        ("subscribe", b"general\x00t2"),
    ]
    # Each withdrawal comes before the request that replaces it.
    assert actions.index(("unsubscribe", b"\x00")) < actions.index(("subscribe", b"\x00"))


# ------------------------------------------------------------------------ reconnecting


def test_not_registered_reregisters_with_resume_and_resends_the_request() -> None:
    core = connected({"general": 1, "dev": 1})
    done = Done()
    ref = core.submit(Chat(room="general", text="hello"), done, 1.0)
    (original,) = core.outgoing
    core.outgoing.clear()
    core.on_frame(reply(ErrorReply(code="not_registered", message="who?", ref=ref)), 1.1)
    assert done.calls == []
    assert core.pending >= 1
    assert core.state == "reconnecting"
    assert take_events(core) == [StatusEvent(state="reconnecting", reason="broker restarted")]
    (register,) = sent(core)
    assert register["type"] == "register"
    assert register["resume"] == TOKEN
    assert sorted(register["rooms"]) == ["dev", "general"]
    core.on_frame(welcome(register, rooms={"general": 2, "dev": 1}), 1.2)
    assert core.state == "connected"
    assert StatusEvent(state="connected", resumed=True) in take_events(core)
    frames = core.outgoing
    assert original in frames  # the same frame, so the same ref
    assert decode(original, None)["ref"] == ref
    core.outgoing.clear()
    core.on_frame(reply(ChatAck(room="general", seq=3, ts=5.0, ref=ref)), 1.3)
    assert isinstance(done.result, ChatAck)
    assert done.result.seq == 3


def test_requests_are_resent_in_the_order_they_were_made() -> None:
    # The first of three chats is refused not_registered (it reached a restarted
    # broker): the welcome resends all three in the order they were sent, not the
    # refused one last, or the room would see them out of order.
    core = connected()
    refs = [core.submit(Chat(room="general", text=f"m{n}"), Done(), 1.0) for n in range(3)]
    sent(core)
    core.on_frame(reply(ErrorReply(code="not_registered", message="", ref=refs[0])), 1.1)
    (register,) = sent(core)
    core.on_frame(welcome(register), 1.2)
    chats = [m for m in sent(core) if m["type"] == "chat"]
    assert [(m["ref"], m["text"]) for m in chats] == [(r, f"m{n}") for n, r in enumerate(refs)]


def test_closing_while_registering_over_a_live_link_says_bye_behind_the_register() -> None:
    # Stopped (Ctrl-C, SIGTERM) right after registering: the broker may have given us
    # the name already, and only a bye frees it before the session times out.
    core = ClientCore("alice")
    core.start(0.0)
    core.on_link(True, 0.1)
    (register,) = sent(core)
    core.close(0.2)
    assert core.state != "closed"
    (bye,) = sent(core)
    assert bye["type"] == "bye"
    core.on_frame(welcome(register), 0.3)
    assert sent(core) == []  # the bye is not sent twice
    core.on_frame(reply(ByeReply(ref=bye["ref"])), 0.4)
    assert core.state == "closed"


def test_closing_before_the_link_is_up_ends_at_once() -> None:
    core = ClientCore("alice")
    core.start(0.0)
    sent(core)
    core.close(0.1)
    assert core.state == "closed"
    assert sent(core) == []


def test_welcome_with_a_new_session_is_a_fresh_start() -> None:
    core = connected()
    ref = core.submit(Who(), None, 1.0)
    sent(core)
    core.on_frame(reply(ErrorReply(code="not_registered", message="", ref=ref)), 1.1)
    (register,) = sent(core)
    core.on_frame(welcome(register, session="another-session-token-xyz"), 1.2)
    assert core.session == "another-session-token-xyz"
    assert StatusEvent(state="connected", resumed=False) in take_events(core)


def test_link_down_moves_to_reconnecting_and_registers_with_resume() -> None:
    core = connected()
    core.on_link(False, 2.0)
    assert core.state == "reconnecting"
    assert take_events(core) == [StatusEvent(state="reconnecting", reason="connection lost")]
    (register,) = sent(core)
    assert (register["type"], register["resume"]) == ("register", TOKEN)
    core.on_frame(welcome(register), 2.5)
    assert core.state == "connected"


def test_no_welcome_while_reconnecting_starts_over_on_a_fresh_socket() -> None:
    core = connected()
    core.on_link(False, 2.0)
    sent(core)
    take_actions(core)
    core.tick(16.9)
    assert take_actions(core) == []
    core.tick(17.1)
    assert take_actions(core) == [("reset", None)]
    (register,) = sent(core)
    assert register["resume"] == TOKEN


def test_closed_replaced_closes_and_fails_pending_requests() -> None:
    core = connected()
    done = Done()
    core.submit(Who(), done, 1.0)
    core.on_frame(reply(Closed(reason="replaced")), 1.1)
    assert core.state == "closed"
    assert isinstance(done.result, ConnectionClosed)
    (status,) = [e for e in take_events(core) if isinstance(e, StatusEvent)]
    assert status.state == "closed"
    assert core.pending == 0
    assert core.outgoing == []


def test_closed_timeout_registers_again() -> None:
    core = connected()
    core.on_frame(reply(Closed(reason="timeout")), 1.0)
    assert core.state == "reconnecting"
    (register,) = sent(core)
    assert register["type"] == "register"


def test_closed_shutdown_waits_for_the_link() -> None:
    core = connected()
    core.on_frame(reply(Closed(reason="shutdown")), 1.0)
    assert core.state == "reconnecting"
    assert sent(core) == []
    core.on_link(False, 1.1)
    core.on_link(True, 3.0)
    (register,) = sent(core)
    assert register["resume"] == TOKEN


def test_close_says_bye() -> None:
    core = connected()
    core.close(1.0)
    (bye,) = sent(core)
    assert bye["type"] == "bye"
    assert core.state == "connected"
    core.on_frame(encode({"type": "bye", "ref": bye["ref"]}), 1.1)
    assert core.state == "closed"


# ------------------------------------------------------------------------ liveness


def test_a_ping_is_sent_after_heartbeat() -> None:
    core = connected()
    # right after the welcome a quick ping asks for the heads (slow-joiner window)
    core.tick(SYNC_PING_DELAY - 0.01)
    assert sent(core) == []
    core.tick(SYNC_PING_DELAY)
    (ping,) = sent(core)
    assert ping["type"] == "ping"
    core.on_frame(reply(Pong(heads={"general": 1}, ref=ping["ref"])), SYNC_PING_DELAY + 0.01)
    core.tick(SYNC_PING_DELAY + 4.9)
    assert sent(core) == []
    core.tick(SYNC_PING_DELAY + 5.0)
    (ping,) = sent(core)
    assert ping["type"] == "ping"
    assert core.next_deadline() <= SYNC_PING_DELAY + 10.0


def test_silence_for_timeout_resets_and_registers_again() -> None:
    core = connected()
    core.tick(15.0)  # exactly `timeout`: not yet
    assert core.state == "connected"
    sent(core)
    take_actions(core)
    core.tick(15.01)
    assert core.state == "reconnecting"
    assert ("reset", None) in take_actions(core)
    (register,) = sent(core)
    assert (register["type"], register["resume"]) == ("register", TOKEN)
    assert StatusEvent(state="reconnecting", reason="broker not answering") in take_events(core)


def test_any_frame_counts_as_life() -> None:
    core = connected()
    core.on_frame(reply(PmEvent(id=1, sender="bob", to="alice", text="x", ts=1.0)), 10.0)
    core.tick(24.9)
    assert core.state == "connected"
    core.tick(25.1)
    assert core.state == "reconnecting"


# ------------------------------------------------------------------------ gaps


def test_a_seq_gap_fetches_history_and_delivers_in_order_once() -> None:
    core = connected({"general": 1})
    publish(core, chat_event(2))
    assert delivered_seqs(core) == [2]
    assert sent(core) == []
    publish(core, chat_event(4))
    assert take_events(core) == []
    (fetch,) = sent(core)
    assert fetch["type"] == "history"
    assert (fetch["room"], fetch["after"]) == ("general", 2)
    publish(core, chat_event(5))
    assert sent(core) == []  # one fetch at a time
    page = HistoryPage(
        messages=(
            chat_event(3),
            chat_event(4),
            chat_event(5),
        ),
        more=False,
        room="general",
        ref=fetch["ref"],
    )
    core.on_frame(reply(page), 1.2)
    events = take_events(core)
    assert events == [chat_event(3), chat_event(4), chat_event(5)]
    publish(core, chat_event(4))
    publish(core, chat_event(6))
    assert delivered_seqs(core) == [6]
    assert sent(core) == []


def test_history_with_more_fetches_again() -> None:
    core = connected({"general": 1})
    publish(core, chat_event(5))
    (fetch,) = sent(core)
    page = HistoryPage(
        messages=(chat_event(2), chat_event(3)), more=True, room="general", ref=fetch["ref"]
    )
    core.on_frame(reply(page), 1.1)
    assert delivered_seqs(core) == [2, 3]
    (fetch2,) = sent(core)
    assert (fetch2["type"], fetch2["after"]) == ("history", 3)


def test_a_pong_head_above_last_fetches() -> None:
    core = connected({"general": 3})
    ref = core.submit(Who(), None, 1.0)  # any request; we want a pong next
    sent(core)
    core.on_frame(reply(Users(users=(), ref=ref)), 1.0)
    core.tick(SYNC_PING_DELAY)
    (ping,) = sent(core)
    core.on_frame(reply(Pong(heads={"general": 5}, ref=ping["ref"])), 1.1)
    (fetch,) = sent(core)
    assert (fetch["type"], fetch["room"], fetch["after"]) == ("history", "general", 3)


def test_events_on_the_wrong_topic_are_ignored() -> None:
    core = connected({"general": 1, "dev": 1})
    publish(core, chat_event(2, "general"), topic=b"dev\x00")
    publish(core, chat_event(2, "ops"))  # a room we are not in
    assert take_events(core) == []
    assert sent(core) == []


def test_a_user_history_request_is_not_fed_to_the_sequencer() -> None:
    core = connected({"general": 1})
    done = Done()
    ref = core.submit(History(room="general", after=0), done, 1.0)
    sent(core)
    page = HistoryPage(messages=(chat_event(2),), more=False, room="general", ref=ref)
    core.on_frame(reply(page), 1.1)
    assert done.result == page
    assert take_events(core) == []


# ------------------------------------------------------------------------ with a broker


def test_a_restarted_client_resuming_its_session_is_not_mistaken_for_a_retry() -> None:
    from zmqchat.broker.handlers import BrokerCore
    from zmqchat.broker.store import Store
    from zmqchat.common.config import BrokerConfig

    store = Store(":memory:")
    broker = BrokerCore(BrokerConfig(), store, pub_port=PUB_PORT, capacity=10, clock=lambda: 1.0)

    def pump(core: ClientCore, rid: bytes) -> list[str]:
        """Carry the core's frames to the broker and the replies back; return the
        texts of the chats the broker published."""
        texts: list[str] = []
        while core.outgoing:
            frames, core.outgoing[:] = list(core.outgoing), []
            for frame in frames:
                broker.handle(rid, frame, 1.0)
            for to, body in broker.out.replies:
                if to == rid:
                    core.on_frame(body, 1.0)
            for _, body in broker.out.publishes:
                event = decode(body, None)
                if event["type"] == "chat":
                    texts.append(event["text"])
            broker.out.clear()
        return texts

    try:
        first = ClientCore("alice")
        first.start(0.0)
        pump(first, b"P1")
        first.submit(Chat(room="general", text="from the first process"), None, 1.0)
        pump(first, b"P1")
        token = first.session
        # The first process crashes; a new one takes the session over.
        second = ClientCore("alice", resume=token)
        second.start(0.0)
        pump(second, b"P2")
        assert second.session == token
        done = Done()
        second.submit(Chat(room="general", text="from the second process"), done, 1.0)
        published = pump(second, b"P2")
        assert published == ["from the second process"]
    finally:
        store.close()
