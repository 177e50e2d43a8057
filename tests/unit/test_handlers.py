"""BrokerCore without sockets: requests in, replies/publishes/store writes out.

Each test drives a real SQLite store through :class:`Broker`, which calls
``core.handle``, commits the store as the server loop does, and decodes what the
core queued. Time is explicit: ``now`` (monotonic, for liveness and rate limits) is
passed to every call, and the wall clock the core stamps ``ts`` with is a fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig
from zmqchat.common.protocol import (
    MAX_FRAME_BYTES,
    MAX_HISTORY_REPLY_BYTES,
    MAX_TEXT_BYTES,
    pm_key,
)

PUB_PORT = 6001
WALL = 1_700_000_000.0

Msg = dict[str, Any]
Replies = dict[bytes, list[Msg]]
Publishes = list[tuple[bytes, Msg]]


class Broker:
    """A BrokerCore on a store file, with a fake wall clock and a monotonic ``now``."""

    def __init__(self, path: str, config: BrokerConfig | None = None, capacity: int = 100) -> None:
        self.path = path
        self.config = config or BrokerConfig()
        self.capacity = capacity
        self.wall = WALL
        self.now = 100.0
        self.store = Store(path)
        self.core = self._make()

    def _make(self) -> BrokerCore:
        return BrokerCore(
            self.config,
            self.store,
            pub_port=PUB_PORT,
            capacity=self.capacity,
            clock=lambda: self.wall,
        )

    def handle(
        self,
        rid: bytes,
        msg: Msg | bytes,
        now: float | None = None,
        extra_frames: bool = False,
    ) -> tuple[Replies, Publishes]:
        frame = msg if isinstance(msg, bytes) else encode(msg)
        self.core.handle(rid, frame, self.now if now is None else now, extra_frames=extra_frames)
        return self.flush()

    def flush(self) -> tuple[Replies, Publishes]:
        """Decode and clear everything the core queued, in the order the server sends
        it: replies that wait for no commit, private messages (each then its ack),
        then (after the commit) replies."""
        self.core.store.commit()
        replies: Replies = {}
        frames = list(self.core.out.now)
        for pm in self.core.out.pms:
            assert pm.sender.rid is not None
            frames += [(pm.to, pm.frame), (pm.sender.rid, pm.ack)]
        for rid, body in frames + self.core.out.replies:
            replies.setdefault(rid, []).append(decode(body, None))
        publishes = [(topic, decode(body, None)) for topic, body in self.core.out.publishes]
        self.core.out.clear()
        return replies, publishes

    def reply(self, rid: bytes, msg: Msg | bytes, now: float | None = None) -> Msg:
        """Handle ``msg`` and return the one reply it got (to ``rid``)."""
        replies, _ = self.handle(rid, msg, now)
        assert list(replies) == [rid], replies
        assert len(replies[rid]) == 1, replies
        return replies[rid][0]

    def own(self, rid: bytes, msg: Msg | bytes, now: float | None = None) -> Msg:
        """Handle ``msg`` and return the one reply to ``rid`` (others may get some)."""
        replies, _ = self.handle(rid, msg, now)
        (reply,) = replies[rid]
        return reply

    def register(self, rid: bytes, user: str, rooms: list[str] | None = None, **extra: Any) -> Msg:
        msg: Msg = {"type": "register", "user": user, "proto": 1, **extra}
        if rooms is not None:
            msg["rooms"] = rooms
        replies, _ = self.handle(rid, msg)
        (welcome,) = replies[rid]
        assert welcome["type"] == "welcome", welcome
        return welcome

    def restart(self) -> int:
        """A new broker process on the same store file; returns the sessions restored."""
        self.store.close()
        self.store = Store(self.path)
        self.core = self._make()
        restored = self.core.restore(self.now)
        self.flush()
        return restored

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "broker.db")


@pytest.fixture
def broker(db_path: str) -> Iterator[Broker]:
    b = Broker(db_path)
    yield b
    b.close()


def make_broker(db_path: str, **kwargs: Any) -> Broker:
    return Broker(db_path, **kwargs)


def chat(room: str, text: str, ref: Any = None, **extra: Any) -> Msg:
    msg: Msg = {"type": "chat", "room": room, "text": text, **extra}
    if ref is not None:
        msg["ref"] = ref
    return msg


def pm(to: str, text: str, ref: Any = None) -> Msg:
    msg: Msg = {"type": "pm", "to": to, "text": text}
    if ref is not None:
        msg["ref"] = ref
    return msg


def history(**fields: Any) -> Msg:
    return {"type": "history", **fields}


def seqs(messages: list[Msg]) -> list[int]:
    return [m["seq"] for m in messages]


# ------------------------------------------------------------------------ register


def test_welcome_fields(broker: Broker) -> None:
    welcome = broker.register(b"A", "Alice", ["general", "Dev"], ref="r-1", client="bot/1")
    assert welcome["user"] == "Alice"
    assert isinstance(welcome["session"], str)
    assert len(welcome["session"]) >= 16
    assert welcome["pub_port"] == PUB_PORT
    assert welcome["rooms"] == {"general": 1, "dev": 1}
    assert welcome["heartbeat"] == 5.0
    assert welcome["timeout"] == 15.0
    assert welcome["proto"] == 1
    assert welcome["server"].startswith("zmqchat/")
    assert welcome["ref"] == "r-1"
    limits = welcome["limits"]
    assert limits["text"] == MAX_TEXT_BYTES
    assert limits["data"] == 16 * 1024
    assert limits["frame"] == MAX_FRAME_BYTES
    assert limits["history"] == 500
    assert limits["subscriptions"] == 4096
    assert limits["rate_limit"] == 200.0
    assert limits["rate_burst"] == 1000


def test_welcome_uses_configured_liveness_and_limits(db_path: str) -> None:
    config = BrokerConfig(heartbeat=2.0, timeout=7.0, rate_limit=3.0, rate_burst=4)
    b = make_broker(db_path, config=config)
    try:
        welcome = b.register(b"A", "alice")
        assert (welcome["heartbeat"], welcome["timeout"]) == (2.0, 7.0)
        assert (welcome["limits"]["rate_limit"], welcome["limits"]["rate_burst"]) == (3.0, 4)
    finally:
        b.close()


def test_default_room_is_general(broker: Broker) -> None:
    assert broker.register(b"A", "alice")["rooms"] == {"general": 1}


def test_welcome_heads_count_the_joiners_own_presence(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.handle(b"A", chat("general", "one"))
    welcome = broker.register(b"B", "bob", ["general", "dev"])
    # general: alice's join (1), her chat (2), bob's join (3)
    assert welcome["rooms"] == {"general": 3, "dev": 1}


def test_register_publishes_presence_join_with_the_next_seq(broker: Broker) -> None:
    broker.wall = WALL + 1
    _replies, pubs = broker.handle(
        b"A", {"type": "register", "user": "alice", "proto": 1, "rooms": ["general"]}
    )
    assert pubs == [
        (
            b"general\x00",
            {
                "type": "presence",
                "room": "general",
                "seq": 1,
                "user": "alice",
                "event": "join",
                "ts": WALL + 1,
            },
        )
    ]
    _, pubs = broker.handle(
        b"B", {"type": "register", "user": "bob", "proto": 1, "rooms": ["general", "dev"]}
    )
    assert [(t, m["room"], m["seq"], m["user"]) for t, m in pubs] == [
        (b"general\x00", "general", 2, "bob"),
        (b"dev\x00", "dev", 1, "bob"),
    ]


def test_register_errors(broker: Broker) -> None:
    bad_name = broker.reply(b"A", {"type": "register", "user": "no spaces", "proto": 1, "ref": 1})
    assert (bad_name["code"], bad_name["ref"]) == ("invalid_name", 1)
    bad_proto = broker.reply(b"A", {"type": "register", "user": "alice", "proto": 2, "ref": 2})
    assert (bad_proto["code"], bad_proto["ref"]) == ("unsupported_proto", 2)
    bad_room = broker.reply(
        b"A", {"type": "register", "user": "alice", "proto": 1, "rooms": ["a b"]}
    )
    assert bad_room["code"] == "invalid_name"
    # none of those registered anything
    assert broker.reply(b"A", {"type": "ping"})["code"] == "not_registered"


def test_already_registered(broker: Broker) -> None:
    broker.register(b"A", "alice")
    err = broker.reply(b"A", {"type": "register", "user": "other", "proto": 1, "ref": 9})
    assert (err["type"], err["code"], err["ref"]) == ("error", "already_registered", 9)


def test_name_taken_is_case_insensitive(broker: Broker) -> None:
    broker.register(b"A", "Alice")
    replies, pubs = broker.handle(b"B", {"type": "register", "user": "aLICE", "proto": 1})
    assert replies[b"B"][0]["code"] == "name_taken"
    assert pubs == []


@pytest.mark.parametrize(
    "msg",
    [
        {"type": "ping", "ref": 1},
        {"type": "chat", "room": "general", "text": "hi", "ref": 1},
        {"type": "pm", "to": "alice", "text": "hi", "ref": 1},
        {"type": "join", "room": "dev", "ref": 1},
        {"type": "leave", "room": "general", "ref": 1},
        {"type": "who", "ref": 1},
        {"type": "rooms", "ref": 1},
        {"type": "history", "room": "general", "ref": 1},
        {"type": "bye", "ref": 1},
    ],
)
def test_not_registered_for_requests_from_unknown_ids(broker: Broker, msg: Msg) -> None:
    broker.register(b"A", "alice")
    replies, pubs = broker.handle(b"Z", msg)
    assert replies == {
        b"Z": [
            {
                "type": "error",
                "code": "not_registered",
                "message": replies[b"Z"][0]["message"],
                "ref": 1,
            }
        ]
    }
    assert pubs == []


def test_server_busy_at_capacity(db_path: str) -> None:
    b = make_broker(db_path, capacity=1)
    try:
        welcome = b.register(b"A", "alice")
        replies, pubs = b.handle(b"B", {"type": "register", "user": "bob", "proto": 1, "ref": 3})
        assert replies[b"B"][0]["code"] == "server_busy"
        assert replies[b"B"][0]["ref"] == 3
        assert pubs == []
        # Taking over one's own session does not need a free slot.
        resumed = b.register(b"C", "alice", resume=welcome["session"])
        assert resumed["session"] == welcome["session"]
        # Once a slot is free, bob gets in.
        assert b.reply(b"C", {"type": "bye"})["type"] == "bye"
        b.register(b"B", "bob")
    finally:
        b.close()


# ------------------------------------------------------------------------ rooms


def test_join_and_leave(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.register(b"B", "Bob", ["general"])
    replies, pubs = broker.handle(b"A", {"type": "join", "room": "Dev", "ref": 4})
    epoch = broker.store.epoch  # one broker: its store numbers every room
    assert replies[b"A"] == [
        {"type": "joined", "room": "dev", "seq": 1, "members": ["alice"], "epoch": epoch, "ref": 4}
    ]
    assert [(t, m["event"], m["seq"]) for t, m in pubs] == [(b"dev\x00", "join", 1)]
    joined = broker.reply(b"B", {"type": "join", "room": "dev"})
    assert (joined["seq"], joined["members"]) == (2, ["alice", "Bob"])
    # joining again changes nothing
    replies, pubs = broker.handle(b"B", {"type": "join", "room": "dev"})
    assert replies[b"B"][0]["seq"] == 2
    assert pubs == []

    replies, pubs = broker.handle(b"A", {"type": "leave", "room": "DEV", "ref": 5})
    assert replies[b"A"] == [{"type": "left", "room": "dev", "ref": 5}]
    assert [(t, m["event"], m["seq"], m["user"]) for t, m in pubs] == [
        (b"dev\x00", "leave", 3, "alice")
    ]
    assert "reason" not in pubs[0][1]
    err = broker.reply(b"A", {"type": "leave", "room": "dev", "ref": 6})
    assert (err["code"], err["ref"]) == ("not_in_room", 6)
    assert broker.reply(b"A", chat("dev", "hi"))["code"] == "not_in_room"


def test_who_and_rooms(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general", "dev"])
    broker.register(b"B", "Bob", ["general"])
    broker.register(b"C", "carol", ["ops"])
    assert broker.reply(b"A", {"type": "who", "ref": 1}) == {
        "type": "users",
        "users": ["alice", "Bob", "carol"],
        "ref": 1,
    }
    assert broker.reply(b"A", {"type": "who", "room": "General"}) == {
        "type": "users",
        "room": "general",
        "users": ["alice", "Bob"],
        "ref": None,
    }
    assert broker.reply(b"A", {"type": "who", "room": "nowhere"})["users"] == []
    broker.handle(b"B", chat("general", "hi"))
    assert broker.reply(b"A", {"type": "rooms", "ref": "x"}) == {
        "type": "rooms",
        "rooms": [
            {"name": "dev", "members": 1, "seq": 1},
            {"name": "general", "members": 2, "seq": 3},
            {"name": "ops", "members": 1, "seq": 1},
        ],
        "ref": "x",
    }


def test_ping_returns_heads_of_the_callers_rooms(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general", "dev"])
    broker.register(b"B", "bob", ["general", "ops"])
    broker.handle(b"B", chat("general", "x"))
    assert broker.reply(b"A", {"type": "ping", "ref": 7}) == {
        "type": "pong",
        "heads": {"general": 3, "dev": 1},
        "ref": 7,
    }


# ------------------------------------------------------------------------ chat


def test_chat_acks_and_publishes_with_the_same_seq(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.wall = WALL + 5
    replies, pubs = broker.handle(
        b"A",
        chat(
            "General",
            "hello",
            ref=11,
            data={"k": [1, 2]},
            **{"from": "mallory", "seq": 999, "ts": 1.0},
        ),
    )
    assert replies == {
        b"A": [{"type": "ack", "room": "general", "seq": 2, "ts": WALL + 5, "ref": 11}]
    }
    assert pubs == [
        (
            b"general\x00",
            {
                "type": "chat",
                "room": "general",
                "seq": 2,
                "from": "alice",
                "text": "hello",
                "ts": WALL + 5,
                "data": {"k": [1, 2]},
            },
        )
    ]


def test_chat_is_stored_before_it_is_acked(broker: Broker, db_path: str) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.core.handle(b"A", encode(chat("general", "durable", ref=1)), broker.now)
    # The ack is only queued, and the event is already written in the open transaction.
    ((rid, body),) = broker.core.out.replies
    ack = decode(body, None)
    assert (rid, ack["type"], ack["seq"]) == (b"A", "ack", 2)
    assert broker.store.dirty
    events, _ = broker.store.room_history("general", 1, None, 10)
    assert [(e.seq, getattr(e, "text", None)) for e in events] == [(2, "durable")]
    broker.flush()
    fresh = Store(db_path)
    try:
        events, _ = fresh.room_history("general", None, None, 10)
        assert [(e.seq, getattr(e, "text", None)) for e in events] == [
            (1, None),
            (2, "durable"),
        ]
    finally:
        fresh.close()


@pytest.mark.parametrize(
    ("text", "extra", "code"),
    [
        ("x" * (MAX_TEXT_BYTES + 1), {}, "too_long"),
        ("é" * (MAX_TEXT_BYTES // 2 + 1), {}, "too_long"),
        ("", {}, "empty"),
        (" \t\n", {}, "empty"),
        ("ok", {"data": {"blob": "x" * (16 * 1024)}}, "too_long"),
        ("ok", {"data": [1, 2]}, "bad_request"),
    ],
)
def test_chat_validation(broker: Broker, text: str, extra: Msg, code: str) -> None:
    broker.register(b"A", "alice")
    replies, pubs = broker.handle(b"A", chat("general", text, ref=3, **extra))
    assert (replies[b"A"][0]["code"], replies[b"A"][0]["ref"]) == (code, 3)
    assert pubs == []
    # nothing was stored and the seq was not consumed
    assert broker.reply(b"A", chat("general", "next"))["seq"] == 2


def test_text_of_exactly_the_limit_is_accepted(broker: Broker) -> None:
    broker.register(b"A", "alice")
    assert broker.reply(b"A", chat("general", "x" * MAX_TEXT_BYTES))["type"] == "ack"


def test_seqs_are_per_room_shared_by_chat_and_presence(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general", "dev"])  # general 1, dev 1
    assert broker.reply(b"A", chat("general", "a"))["seq"] == 2
    assert broker.reply(b"A", chat("dev", "b"))["seq"] == 2
    _, pubs = broker.handle(b"B", {"type": "register", "user": "bob", "proto": 1})
    assert [(m["room"], m["seq"]) for _, m in pubs] == [("general", 3)]
    assert broker.reply(b"B", chat("general", "c"))["seq"] == 4
    _, pubs = broker.handle(b"B", {"type": "bye"})
    assert [(m["room"], m["seq"], m["event"]) for _, m in pubs] == [("general", 5, "leave")]
    assert broker.reply(b"A", chat("general", "d"))["seq"] == 6
    assert broker.reply(b"A", chat("dev", "e"))["seq"] == 3


def test_seqs_continue_after_a_restart(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    assert broker.reply(b"A", chat("general", "a"))["seq"] == 2
    broker.restart()
    # The old connection is unknown to the new broker; a fresh user gets the next seq.
    _, pubs = broker.handle(b"B", {"type": "register", "user": "bob", "proto": 1})
    assert [(m["room"], m["seq"]) for _, m in pubs] == [("general", 3)]
    assert broker.reply(b"B", chat("general", "b"))["seq"] == 4


def test_seqs_of_an_emptied_room_continue(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.handle(b"A", {"type": "bye"})  # general: join 1, leave 2, room forgotten
    welcome = broker.register(b"B", "bob", ["general"])
    assert welcome["rooms"] == {"general": 3}


def test_retried_chat_is_acked_again_and_not_published_twice(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.register(b"B", "bob", ["general"])
    replies, pubs = broker.handle(b"A", chat("general", "once", ref="c1"))
    first = replies[b"A"][0]
    assert len(pubs) == 1
    broker.wall += 10
    replies, pubs = broker.handle(b"A", chat("general", "once", ref="c1"))
    assert replies == {b"A": [first]}
    assert pubs == []
    events, _ = broker.store.room_history("general", None, None, 50)
    assert [getattr(e, "text", None) for e in events].count("once") == 1
    # a new ref is a new message
    assert broker.reply(b"A", chat("general", "once", ref="c2"))["seq"] == first["seq"] + 1
    # refs are per session: bob's "c1" is his own
    assert broker.reply(b"B", chat("general", "mine", ref="c1"))["seq"] == first["seq"] + 2


def test_chat_without_ref_is_never_deduplicated(broker: Broker) -> None:
    broker.register(b"A", "alice")
    assert broker.reply(b"A", chat("general", "same"))["seq"] == 2
    assert broker.reply(b"A", chat("general", "same"))["seq"] == 3


# ------------------------------------------------------------------------ rate limit


def test_rate_limit_and_refill(db_path: str) -> None:
    b = make_broker(db_path, config=BrokerConfig(rate_limit=1, rate_burst=2))
    b.now = 10.0
    try:
        b.register(b"A", "alice")
        b.register(b"B", "bob")
        assert b.reply(b"A", chat("general", "1"), now=10.0)["type"] == "ack"
        assert b.reply(b"A", chat("general", "2"), now=10.0)["type"] == "ack"
        replies, pubs = b.handle(b"A", chat("general", "3", ref=3), now=10.0)
        assert (replies[b"A"][0]["code"], replies[b"A"][0]["ref"]) == ("rate_limited", 3)
        assert pubs == []
        # pm spends from the same bucket
        assert b.reply(b"A", pm("bob", "p"), now=10.0)["code"] == "rate_limited"
        # the bucket is per session
        assert b.reply(b"B", chat("general", "b"), now=10.0)["type"] == "ack"
        # half a token is not enough; a whole one is
        assert b.reply(b"A", chat("general", "4"), now=10.5)["code"] == "rate_limited"
        ack = b.reply(b"A", chat("general", "5"), now=11.0)
        assert ack["type"] == "ack"
        assert b.reply(b"A", chat("general", "6"), now=11.0)["code"] == "rate_limited"
        # the refill stops at the burst
        for _ in range(2):
            assert b.reply(b"A", chat("general", "7"), now=100.0)["type"] == "ack"
        assert b.reply(b"A", chat("general", "8"), now=100.0)["code"] == "rate_limited"
        # rate-limited chats consumed no seq
        assert b.reply(b"A", chat("general", "9"), now=101.0)["seq"] == ack["seq"] + 3
    finally:
        b.close()


def test_rate_limited_retry_is_still_acked(db_path: str) -> None:
    b = make_broker(db_path, config=BrokerConfig(rate_limit=1, rate_burst=1))
    b.now = 10.0
    try:
        b.register(b"A", "alice")
        first = b.reply(b"A", chat("general", "1", ref=1), now=10.0)
        assert b.reply(b"A", chat("general", "1", ref=1), now=10.0) == first
    finally:
        b.close()


def test_rate_limit_zero_disables(db_path: str) -> None:
    b = make_broker(db_path, config=BrokerConfig(rate_limit=0, rate_burst=1))
    b.now = 10.0
    try:
        b.register(b"A", "alice")
        b.register(b"B", "bob")
        for i in range(50):
            assert b.reply(b"A", chat("general", f"m{i}"), now=10.0)["type"] == "ack"
            assert b.own(b"A", pm("bob", f"p{i}"), now=10.0)["type"] == "ack"
    finally:
        b.close()


# ------------------------------------------------------------------------ pm


def test_pm_is_delivered_to_the_recipient(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "Bob")
    broker.wall = WALL + 3
    replies, pubs = broker.handle(b"A", pm("BOB", "psst", ref=8))
    assert pubs == []
    assert set(replies) == {b"A", b"B"}
    (event,) = replies[b"B"]
    (ack,) = replies[b"A"]
    assert event == {
        "type": "pm",
        "id": event["id"],
        "from": "alice",
        "to": "Bob",
        "text": "psst",
        "key": pm_key(1, 8),
        "ts": WALL + 3,
    }
    assert ack == {
        "type": "ack",
        "to": "Bob",
        "id": event["id"],
        "status": "delivered",
        "ts": WALL + 3,
        "ref": 8,
    }


def test_pm_and_its_ack_leave_without_waiting_for_a_commit(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.core.handle(b"A", encode(pm("bob", "quick")), broker.now)
    out = broker.core.out
    ((delivery,),) = [out.pms]
    assert (delivery.to, decode(delivery.frame)["type"]) == (b"B", "pm")
    assert (delivery.sender.rid, decode(delivery.ack)["type"]) == (b"A", "ack")
    assert out.replies == []
    assert out.publishes == []
    assert broker.store.dirty  # the history copy, committed later
    broker.flush()


def test_an_undelivered_pm_is_taken_back_and_its_sender_told(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.core.handle(b"A", encode(pm("bob", "lost", ref=4)), broker.now)
    (delivery,) = broker.core.out.pms
    # The server could not hand it over (bob's link went down meanwhile).
    error = decode(broker.core.undelivered(delivery))
    assert (error["type"], error["code"], error["ref"]) == ("error", "user_offline", 4)
    broker.core.out.clear()
    broker.store.commit()
    assert broker.store.session_pm_history(1, "bob", None, None, 50) == ([], False)
    # A retry with the same ref is a new attempt, not a replay of a false ack.
    broker.core.handle(b"A", encode(pm("bob", "lost", ref=4)), broker.now)
    (retry,) = broker.core.out.pms
    assert retry.pm_id != delivery.pm_id
    broker.flush()


def test_a_pm_to_someone_just_welcomed_waits_behind_the_welcome(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.core.handle(b"B", encode({"type": "register", "user": "bob", "proto": 1}), broker.now)
    broker.core.handle(b"A", encode(pm("bob", "hi")), broker.now)
    assert broker.core.out.pms == []
    replies, _ = broker.flush()
    assert [m["type"] for m in replies[b"B"]] == ["welcome", "pm"]


def test_pm_carries_data(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    replies, _ = broker.handle(b"A", {"type": "pm", "to": "bob", "text": "t", "data": {"x": 1}})
    assert replies[b"B"][0]["data"] == {"x": 1}


def test_retried_pm_is_acked_again_stored_once_and_handed_over_with_the_same_id(
    broker: Broker,
) -> None:
    # The first copy may have been lost with a crash between the commit and the send:
    # the retry hands the stored message over again, under its id, and the recipient's
    # client drops it if it had it.
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    replies, _ = broker.handle(b"A", pm("bob", "once", ref=1))
    first, delivered = replies[b"A"][0], replies[b"B"][0]
    replies, pubs = broker.handle(b"A", pm("bob", "once", ref=1))
    assert replies == {b"A": [first], b"B": [delivered]}
    assert pubs == []
    # The key is the sender's session and ref: what a retry keeps across a crash.
    assert delivered["key"] == pm_key(1, 1)
    events, _ = broker.store.session_pm_history(1, "bob", None, None, 50)
    assert [e.text for e in events] == ["once"]
    replies, _ = broker.handle(b"A", pm("bob", "twice", ref=2))
    assert replies[b"B"][0]["key"] not in (None, delivered["key"])


def test_pm_to_a_user_who_left_is_user_offline(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.handle(b"B", {"type": "bye"})
    err = broker.reply(b"A", pm("Bob", "are you there", ref=2))
    assert (err["code"], err["ref"]) == ("user_offline", 2)


def test_pm_to_a_never_seen_user_is_no_such_user(broker: Broker) -> None:
    broker.register(b"A", "alice")
    err = broker.reply(b"A", pm("nobody", "hello", ref=2))
    assert (err["code"], err["ref"]) == ("no_such_user", 2)
    assert broker.reply(b"A", pm("not a name", "x"))["code"] == "invalid_name"


# ------------------------------------------------------------------------ history


@pytest.fixture
def ten(broker: Broker) -> Broker:
    """alice in general: her join (seq 1) and chats m2..m11 (seqs 2..11)."""
    broker.register(b"A", "alice", ["general"])
    for seq in range(2, 12):
        broker.handle(b"A", chat("general", f"m{seq}"))
    return broker


def test_history_latest(ten: Broker) -> None:
    page = ten.reply(b"A", history(room="General", limit=3, ref=4))
    assert (page["type"], page["room"], page["ref"]) == ("history", "general", 4)
    assert seqs(page["messages"]) == [9, 10, 11]
    assert page["more"] is True
    page = ten.reply(b"A", history(room="general"))
    assert seqs(page["messages"]) == list(range(1, 12))
    assert page["more"] is False
    assert page["messages"][0]["type"] == "presence"
    assert page["messages"][1] == {
        "type": "chat",
        "room": "general",
        "seq": 2,
        "from": "alice",
        "text": "m2",
        "ts": WALL,
    }


def test_history_after(ten: Broker) -> None:
    page = ten.reply(b"A", history(room="general", after=0, limit=4))
    assert seqs(page["messages"]) == [1, 2, 3, 4]
    assert page["more"] is True
    page = ten.reply(b"A", history(room="general", after=8, limit=4))
    assert seqs(page["messages"]) == [9, 10, 11]
    assert page["more"] is False
    page = ten.reply(b"A", history(room="general", after=11))
    assert (page["messages"], page["more"]) == ([], False)


def test_history_before(ten: Broker) -> None:
    page = ten.reply(b"A", history(room="general", before=8, limit=3))
    assert seqs(page["messages"]) == [5, 6, 7]
    assert page["more"] is True
    page = ten.reply(b"A", history(room="general", before=3, limit=3))
    assert seqs(page["messages"]) == [1, 2]
    assert page["more"] is False


def test_history_after_and_before(ten: Broker) -> None:
    page = ten.reply(b"A", history(room="general", after=3, before=7))
    assert seqs(page["messages"]) == [4, 5, 6]
    assert page["more"] is False


@pytest.mark.parametrize(
    "fields",
    [
        {"room": "general", "limit": 0},
        {"room": "general", "limit": 501},
        {"room": "general", "limit": "5"},
        {"room": "general", "after": -1},
        {"room": "general", "with": "bob"},
        {},
    ],
)
def test_history_bad_request(ten: Broker, fields: Msg) -> None:
    err = ten.reply(b"A", history(ref=1, **fields))
    assert (err["code"], err["ref"]) == ("bad_request", 1)


def test_history_limit_500_is_allowed(ten: Broker) -> None:
    assert len(ten.reply(b"A", history(room="general", limit=500))["messages"]) == 11


def test_history_of_a_room_one_is_not_in(ten: Broker) -> None:
    ten.register(b"B", "bob", ["dev"])
    err = ten.reply(b"B", history(room="general", ref=2))
    assert (err["code"], err["ref"]) == ("not_in_room", 2)


def test_history_with_a_user(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.register(b"C", "carol")
    broker.handle(b"A", pm("bob", "a1"))
    broker.handle(b"B", pm("alice", "b1"))
    broker.handle(b"A", pm("carol", "c1"))
    broker.handle(b"A", pm("bob", "a2"))
    page = broker.reply(b"A", history(**{"with": "BOB", "ref": 5}))
    assert (page["type"], page["with"], page["ref"], page["more"]) == ("history", "BOB", 5, False)
    assert [(m["type"], m["from"], m["to"], m["text"]) for m in page["messages"]] == [
        ("pm", "alice", "bob", "a1"),
        ("pm", "bob", "alice", "b1"),
        ("pm", "alice", "bob", "a2"),
    ]
    page = broker.reply(b"A", history(**{"with": "bob", "limit": 2}))
    assert [m["text"] for m in page["messages"]] == ["b1", "a2"]
    assert page["more"] is True
    page = broker.reply(b"C", history(**{"with": "bob"}))
    assert page["messages"] == []


def test_big_history_page_is_cut_to_fit_a_frame(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    for i in range(40):
        assert broker.reply(b"A", chat("general", f"{i:04d}" + "x" * 3996))["type"] == "ack"
    for fields, newest in (({}, True), ({"after": 0}, False), ({"before": 42}, True)):
        broker.core.handle(b"A", encode(history(room="general", limit=500, **fields)), broker.now)
        ((_, body),) = broker.core.out.replies
        broker.core.out.clear()
        assert len(body) <= MAX_HISTORY_REPLY_BYTES < MAX_FRAME_BYTES
        page = decode(body, None)
        got = seqs(page["messages"])
        assert page["more"] is True
        assert 10 <= len(got) < 41
        assert got == list(range(got[0], got[0] + len(got)))  # contiguous, ascending
        if newest:
            assert got[-1] == 41  # the cut keeps the events nearest the cursor
        else:
            assert got[0] == 1


# ------------------------------------------------------------------------ refs, garbage


@pytest.mark.parametrize("ref", [0, 7, -3, "abc", "x" * 64, None])
@pytest.mark.parametrize(
    "msg",
    [
        {"type": "ping"},
        {"type": "who"},
        {"type": "rooms"},
        {"type": "join", "room": "dev"},
        {"type": "leave", "room": "nowhere"},
        {"type": "chat", "room": "general", "text": "hi"},
        {"type": "chat", "room": "general", "text": ""},
        {"type": "pm", "to": "nobody", "text": "hi"},
        {"type": "history", "room": "general"},
        {"type": "history", "room": "general", "limit": 0},
        {"type": "register", "user": "alice", "proto": 1},
        {"type": "unknown"},
        {"type": "bye"},
    ],
)
def test_every_reply_echoes_the_ref(broker: Broker, msg: Msg, ref: Any) -> None:
    broker.register(b"A", "alice")
    replies, _ = broker.handle(b"A", {**msg, "ref": ref})
    assert replies[b"A"]
    for reply in replies[b"A"]:
        assert "ref" in reply
        assert reply["ref"] == ref
        assert type(reply["ref"]) is type(ref)


def test_error_reply_shape(broker: Broker) -> None:
    err = broker.reply(b"A", {"type": "ping", "ref": 1})
    assert set(err) == {"type", "code", "message", "ref"}
    assert err["type"] == "error"
    assert isinstance(err["message"], str)
    assert err["message"]


@pytest.mark.parametrize(
    "ref", [1.5, True, ["x"], {"a": 1}, "x" * 65, b"bytes"], ids=lambda r: type(r).__name__
)
def test_a_ref_of_another_type_is_bad_request_with_nil_ref(broker: Broker, ref: Any) -> None:
    broker.register(b"A", "alice")
    replies, pubs = broker.handle(b"A", chat("general", "hi", ref=ref))
    assert [(r["code"], r["ref"]) for r in replies[b"A"]] == [("bad_request", None)]
    assert pubs == []


GARBAGE = [
    b"",
    b"\xc1",  # a byte msgpack never uses
    b"not msgpack at all",
    b"\x92\x01\x02",  # a list
    msgpack.packb(42),
    msgpack.packb("register"),
    msgpack.packb({"type": "chat"}) + b"\x00",  # two objects
    msgpack.packb({1: "int key"}),
    msgpack.packb({"type": "chat", "text": b"\xff\xfe"}, use_bin_type=False),  # bad UTF-8
    b"\x91" * 5000,  # absurd nesting
    b"\xdf\xff\xff\xff\xff",  # a map that claims 4G entries
]


@pytest.mark.parametrize("frame", GARBAGE)
@pytest.mark.parametrize("registered", [False, True])
def test_garbage_gets_bad_request_with_nil_ref(
    broker: Broker, frame: bytes, registered: bool
) -> None:
    broker.register(b"Q", "other")
    if registered:
        broker.register(b"A", "alice")
    replies, pubs = broker.handle(b"A", frame)
    assert replies == {
        b"A": [
            {
                "type": "error",
                "code": "bad_request",
                "message": replies[b"A"][0]["message"],
                "ref": None,
            }
        ]
    }
    assert pubs == []
    # still serving
    assert broker.reply(b"Q", {"type": "ping"})["type"] == "pong"


@pytest.mark.parametrize(
    "msg",
    [
        {"type": None},
        {"type": 5},
        {"no": "type"},
        {"type": "chat", "room": 5, "text": "x"},
        {"type": "chat", "room": "general"},
        {"type": "chat", "room": "general", "text": 5},
        {"type": "pm", "to": ["bob"], "text": "x"},
        {"type": "join"},
        {"type": "history", "room": "general", "after": "3"},
        {"type": "history", "room": "general", "before": True},
        {"type": "who", "room": 1},
    ],
)
def test_malformed_requests_are_bad_request(broker: Broker, msg: Msg) -> None:
    broker.register(b"A", "alice")
    replies, pubs = broker.handle(b"A", {**msg, "ref": 12})
    assert [(r["code"], r["ref"]) for r in replies[b"A"]] == [("bad_request", 12)]
    assert pubs == []


def test_extra_frames_are_bad_request(broker: Broker) -> None:
    broker.register(b"A", "alice")
    replies, pubs = broker.handle(b"A", chat("general", "hi", ref=4), extra_frames=True)
    assert [(r["code"], r["ref"]) for r in replies[b"A"]] == [("bad_request", 4)]
    assert pubs == []
    replies, _ = broker.handle(
        b"N", {"type": "register", "user": "bob", "proto": 1, "ref": 5}, extra_frames=True
    )
    assert [(r["code"], r["ref"]) for r in replies[b"N"]] == [("bad_request", 5)]
    assert broker.reply(b"N", {"type": "ping"})["code"] == "not_registered"


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.binary(max_size=20)
    | st.sampled_from(["general", "dev", "alice", "bob", "Bob", "x" * 40, "", " "]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_requests = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["register", "join", "leave", "chat", "pm", "who", "rooms", "history", "ping", "bye"]
        )
    },
    optional=dict.fromkeys(
        (
            "ref",
            "room",
            "text",
            "to",
            "user",
            "proto",
            "rooms",
            "after",
            "before",
            "limit",
            "with",
            "data",
            "resume",
            "client",
            "password",
        ),
        _values,
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_requests, min_size=1, max_size=4))
def test_fuzzed_requests_never_cause_an_internal_error(requests: list[Msg]) -> None:
    b = Broker(":memory:")
    try:
        b.register(b"A", "alice", ["general"])
        b.register(b"B", "bob", ["general"])
        for msg in requests:
            b.core.handle(b"A", encode(msg), b.now)
            b.core.handle(b"B", encode(msg), b.now)
            replies, _ = b.flush()
            for reply in [r for rs in replies.values() for r in rs]:
                assert reply.get("code") != "server_busy", (msg, reply)
    finally:
        b.close()


@pytest.mark.parametrize(
    "msg",
    [
        chat("general", "hi", ref=2**64 - 1),
        pm("bob", "hi", ref=2**63),
        history(room="general", after=2**64 - 1),
        history(room="general", before=2**63),
    ],
    ids=["chat-ref", "pm-ref", "history-after", "history-before"],
)
def test_integers_beyond_int64_are_not_an_internal_error(broker: Broker, msg: Msg) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    reply = broker.reply(b"A", msg)
    assert reply.get("code") != "server_busy", reply


# ------------------------------------------------------------------------ expiry, bye


def test_expire_ends_idle_sessions(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general", "dev"])
    broker.handle(b"B", {"type": "register", "user": "bob", "proto": 1}, now=110.0)
    assert broker.core.next_deadline() == 115.0
    assert broker.core.expire(115.0) == 0  # idle exactly `timeout` is still alive
    broker.flush()
    broker.wall = WALL + 20
    assert broker.core.expire(115.5) == 1
    replies, pubs = broker.flush()
    assert replies == {b"A": [{"type": "closed", "reason": "timeout"}]}
    assert [(t, m) for t, m in pubs] == [
        (
            b"general\x00",
            {
                "type": "presence",
                "room": "general",
                "seq": 3,
                "user": "alice",
                "event": "leave",
                "reason": "timeout",
                "ts": WALL + 20,
            },
        ),
        (
            b"dev\x00",
            {
                "type": "presence",
                "room": "dev",
                "seq": 2,
                "user": "alice",
                "event": "leave",
                "reason": "timeout",
                "ts": WALL + 20,
            },
        ),
    ]
    assert broker.core.next_deadline() == 125.0
    assert [s.user for s in broker.store.sessions()] == ["bob"]
    assert broker.reply(b"A", {"type": "ping"}, now=116.0)["code"] == "not_registered"
    # the name is free again
    welcome = broker.register(b"C", "ALICE")
    assert welcome["user"] == "ALICE"


def test_any_request_counts_as_life(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.handle(b"A", {"type": "who"}, now=114.0)
    broker.handle(b"A", b"garbage", now=128.0)  # even a bad one
    assert broker.core.expire(142.9) == 0
    assert broker.core.expire(143.1) == 1


def test_bye_ends_the_session(broker: Broker) -> None:
    welcome = broker.register(b"A", "alice", ["general"])
    broker.register(b"B", "bob", ["general"])
    replies, pubs = broker.handle(b"A", {"type": "bye", "ref": 3})
    assert replies == {b"A": [{"type": "bye", "ref": 3}]}
    assert [(t, m["event"], m["reason"], m["user"], m["seq"]) for t, m in pubs] == [
        (b"general\x00", "leave", "quit", "alice", 3)
    ]
    assert [s.user for s in broker.store.sessions()] == ["bob"]
    assert broker.reply(b"A", {"type": "ping"})["code"] == "not_registered"
    assert broker.reply(b"B", {"type": "who"})["users"] == ["bob"]
    # the token is dead: resuming it is a plain register, a new session
    old_sid = {s.user: s.sid for s in broker.store.sessions()}
    broker.register(b"A", "alice", resume=welcome["session"])
    new_sid = {s.user: s.sid for s in broker.store.sessions()}
    assert new_sid["alice"] not in old_sid.values()


# ------------------------------------------------------------------------ resume


def test_resume_takes_the_session_over(broker: Broker) -> None:
    first = broker.register(b"A", "alice", ["general", "dev"])
    broker.register(b"B", "bob", ["general"])
    broker.handle(b"A", chat("general", "before", ref=1))
    replies, pubs = broker.handle(
        b"C",
        {
            "type": "register",
            "user": "Alice",
            "proto": 1,
            "rooms": ["other"],
            "resume": first["session"],
            "ref": 2,
        },
    )
    assert pubs == []  # no leave/join churn
    assert set(replies) == {b"A", b"C"}
    assert replies[b"A"] == [{"type": "closed", "reason": "replaced"}]
    (welcome,) = replies[b"C"]
    assert welcome["type"] == "welcome"
    assert welcome["session"] == first["session"]
    assert welcome["user"] == "alice"
    assert welcome["rooms"] == {"general": 3, "dev": 1}
    assert welcome["ref"] == 2
    # the old connection is unregistered, the new one is alice
    assert broker.reply(b"A", {"type": "ping"})["code"] == "not_registered"
    assert broker.reply(b"C", {"type": "who", "room": "general"})["users"] == ["alice", "bob"]
    # same ref table
    assert broker.reply(b"C", chat("general", "before", ref=1))["seq"] == 3
    # pms go to the new connection
    replies, _ = broker.handle(b"B", pm("alice", "hi"))
    assert set(replies) == {b"B", b"C"}
    assert [s.user for s in broker.store.sessions()] == ["alice", "bob"]


def test_resume_from_the_same_connection_is_already_registered(broker: Broker) -> None:
    first = broker.register(b"A", "alice")
    err = broker.reply(
        b"A", {"type": "register", "user": "alice", "proto": 1, "resume": first["session"]}
    )
    assert err["code"] == "already_registered"


def test_unknown_resume_token_is_a_plain_register(broker: Broker) -> None:
    replies, pubs = broker.handle(
        b"A",
        {"type": "register", "user": "alice", "proto": 1, "resume": "no-such-token-0123456789"},
    )
    (welcome,) = replies[b"A"]
    assert welcome["type"] == "welcome"
    assert [(m["event"], m["seq"]) for _, m in pubs] == [("join", 1)]
    # Long enough to be unguessable, it becomes the new session's token: a client
    # whose welcome was lost in a crash resumes with it (protocol.md 6.3).
    assert welcome["session"] == "no-such-token-0123456789"
    replies, _ = broker.handle(
        b"B", {"type": "register", "user": "bob", "proto": 1, "resume": "short-token-0123"}
    )
    assert replies[b"B"][0]["session"] != "short-token-0123"


def test_a_client_whose_welcome_was_lost_resumes_with_its_own_token(tmp_path: Path) -> None:
    token = "a-token-of-the-clients-own-0123"
    first = Broker(str(tmp_path / "s.db"))
    first.register(b"A", "alice", resume=token)  # the broker dies before this welcome
    restarted = Broker(str(tmp_path / "s.db"))
    restarted.core.restore(restarted.now)
    again = restarted.register(b"A2", "alice", resume=token)
    assert again["session"] == token
    assert [s.user for s in restarted.store.sessions()] == ["alice"]


def test_resume_token_of_another_user_is_a_plain_register(broker: Broker) -> None:
    alice = broker.register(b"A", "alice")
    replies, pubs = broker.handle(
        b"B", {"type": "register", "user": "bob", "proto": 1, "resume": alice["session"]}
    )
    (welcome,) = replies[b"B"]
    assert (welcome["user"], welcome["rooms"]) == ("bob", {"general": 2})
    assert welcome["session"] != alice["session"]
    assert [m["user"] for _, m in pubs] == ["bob"]
    assert b"A" not in replies  # alice is not disturbed
    assert broker.reply(b"A", {"type": "ping"})["type"] == "pong"


def test_plain_register_of_a_live_name_is_name_taken_even_with_a_token(broker: Broker) -> None:
    broker.register(b"A", "alice")
    bob = broker.register(b"B", "bob")
    err = broker.reply(
        b"C", {"type": "register", "user": "alice", "proto": 1, "resume": bob["session"]}
    )
    assert err["code"] == "name_taken"


# ------------------------------------------------------------------------ restart


def test_restore_lets_clients_resume_after_a_restart(broker: Broker) -> None:
    alice = broker.register(b"A", "alice", ["general", "dev"])
    broker.register(b"B", "bob", ["general"])
    ack = broker.reply(b"A", chat("general", "before restart", ref=41))
    pm_replies, _ = broker.handle(b"A", pm("bob", "private", ref=42))
    pm_ack = pm_replies[b"A"][0]
    broker.handle(b"A", chat("dev", "no ref"))

    assert broker.restart() == 2
    # Before resuming, the new broker does not know the connection.
    assert broker.reply(b"A", {"type": "ping"})["code"] == "not_registered"

    replies, pubs = broker.handle(
        b"A2",
        {"type": "register", "user": "alice", "proto": 1, "resume": alice["session"], "ref": 1},
    )
    assert pubs == []
    (welcome,) = replies[b"A2"]
    assert welcome["session"] == alice["session"]
    assert welcome["rooms"] == {"general": 3, "dev": 2}

    # A chat retried across the restart is acked with its original seq, not stored twice.
    replies, pubs = broker.handle(b"A2", chat("general", "before restart", ref=41))
    assert replies == {b"A2": [ack]}
    assert pubs == []
    events, _ = broker.store.room_history("general", None, None, 50)
    assert [getattr(e, "text", None) for e in events].count("before restart") == 1
    # the same for a pm
    assert broker.reply(b"A2", pm("bob", "private", ref=42)) == pm_ack
    # new messages continue the room's seqs
    assert broker.reply(b"A2", chat("general", "after", ref=43))["seq"] == 4


def test_restored_sessions_that_do_not_come_back_expire(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.register(b"B", "bob", ["general"])
    broker.now = 200.0
    broker.restart()
    bob = next(s for s in broker.store.sessions() if s.user == "bob")
    broker.register(b"B2", "bob", resume=bob.token)
    broker.handle(b"B2", {"type": "ping"}, now=210.0)
    assert broker.core.expire(215.5) == 1
    replies, pubs = broker.flush()
    assert replies == {}  # alice had no connection to tell
    assert [(m["user"], m["event"], m["reason"], m["seq"]) for _, m in pubs] == [
        ("alice", "leave", "timeout", 3)
    ]
    assert [s.user for s in broker.store.sessions()] == ["bob"]
    broker.register(b"A3", "alice")


def test_restored_but_detached_user_is_offline_for_pms(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.restart()
    bob = next(s for s in broker.store.sessions() if s.user == "bob")
    broker.register(b"B2", "bob", resume=bob.token)
    assert broker.reply(b"B2", pm("alice", "hi"))["code"] == "user_offline"
    # and the name is still held for its owner
    assert broker.reply(b"X", {"type": "register", "user": "alice", "proto": 1})["code"] == (
        "name_taken"
    )


def test_pm_history_does_not_show_a_previous_sessions_messages(broker: Broker) -> None:
    broker.register(b"C", "carol")
    broker.register(b"A", "alice")
    broker.handle(b"A", pm("carol", "secret for carol"))
    broker.handle(b"A", {"type": "bye"})
    # someone else registers (any name) and asks for their conversation with carol
    broker.register(b"M", "mallory")
    page = broker.reply(b"M", history(**{"with": "carol"}))
    assert page["messages"] == []


def test_restored_session_does_not_inherit_refs_of_a_deleted_session(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.handle(b"A", chat("general", "alice says", ref=2))
    broker.handle(b"A", {"type": "bye"})
    bob = broker.register(b"B", "bob")
    broker.restart()
    broker.register(b"B2", "bob", resume=bob["session"])
    _replies, pubs = broker.handle(b"B2", chat("general", "bob says", ref=2))
    assert len(pubs) == 1
    assert pubs[0][1]["text"] == "bob says"


# ------------------------------------------------------------------------ shutdown


def test_shutdown_notifies_everyone(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.wall = WALL + 9
    broker.core.shutdown()
    replies, pubs = broker.flush()
    assert pubs == [(b"\x00", {"type": "system", "text": "broker shutting down", "ts": WALL + 9})]
    assert replies == {
        b"A": [{"type": "closed", "reason": "shutdown"}],
        b"B": [{"type": "closed", "reason": "shutdown"}],
    }
    # sessions stay in the store so their clients can resume them
    assert sorted(s.user for s in broker.store.sessions()) == ["alice", "bob"]


def test_shutdown_skips_detached_sessions(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.restart()
    alice = next(s for s in broker.store.sessions() if s.user == "alice")
    broker.register(b"A2", "alice", resume=alice.token)
    broker.core.shutdown("bye now")
    replies, pubs = broker.flush()
    assert pubs[0][1]["text"] == "bye now"
    assert replies == {b"A2": [{"type": "closed", "reason": "shutdown"}]}


# ------------------------------------------------------------- a failing store


def fail_on(broker: Broker, action: str, table: str = "sessions") -> None:
    """Make the store fail, for real, at the next ``action`` on ``table`` (INSERT,
    UPDATE or DELETE): an SQLite trigger aborts it, as a full disk would."""
    broker.store._db.execute(
        f"CREATE TEMP TRIGGER fail_{action.lower()} BEFORE {action} ON {table}"
        " BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END"
    )


def heal(broker: Broker, action: str) -> None:
    broker.store._db.execute(f"DROP TRIGGER fail_{action.lower()}")


def test_a_join_that_fails_in_the_store_leaves_nothing_behind(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.register(b"W", "watcher", ["general"])
    # The second write of a join: its presence is already in.
    fail_on(broker, "INSERT", "session_rooms")
    replies, pubs = broker.handle(b"A", {"type": "join", "room": "dev", "ref": 3})
    ((error,),) = replies.values()
    assert (error["type"], error["ref"], error["code"]) == ("error", 3, "server_busy")
    assert list(replies) == [b"A"]
    assert pubs == []
    assert broker.reply(b"W", {"type": "who", "room": "dev"})["users"] == []
    assert broker.store.room_head("dev") == 0
    heal(broker, "INSERT")
    joined = broker.reply(b"A", {"type": "join", "room": "dev"})
    assert (joined["seq"], joined["members"]) == (1, ["alice"])


def test_a_failed_expiry_keeps_the_session_and_tries_again_later(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.handle(b"W", {"type": "register", "user": "watcher", "proto": 1}, now=110.0)
    fail_on(broker, "DELETE")
    assert broker.core.expire(115.5) == 1
    replies, pubs = broker.flush()
    assert (replies, pubs) == ({}, [])  # no `closed`, no presence: nothing happened
    assert broker.reply(b"W", {"type": "who", "room": "general"}, now=116.0)["users"] == [
        "alice",
        "watcher",
    ]
    heal(broker, "DELETE")
    assert broker.core.expire(130.0) == 0  # a whole timeout after the failed try
    assert broker.core.expire(130.6) == 1  # alice; the watcher, seen at 116, is not idle
    replies, pubs = broker.flush()
    assert replies == {b"A": [{"type": "closed", "reason": "timeout"}]}
    assert [(m["user"], m["event"], m["seq"]) for _, m in pubs] == [("alice", "leave", 3)]


# ------------------------------------------------------------ a store that fails


def test_after_a_failed_commit_writes_are_refused_reads_served_and_state_is_the_stores(
    broker: Broker,
) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    broker.handle(b"A", {"type": "chat", "room": "general", "text": "stored", "ref": 1})
    # A batch that writes, then its commit fails: the server rolls back.
    now = broker.now
    broker.core.handle(b"A", encode({"type": "chat", "room": "general", "text": "lost"}), now)
    broker.core.handle(b"B", encode({"type": "join", "room": "dev", "ref": 2}), now)
    acks = [body for _, body in broker.core.out.replies]
    broker.store.rollback()
    assert [decode(broker.core.unstored(body), None)["code"] for body in acks] == [
        "store_unavailable",
        "store_unavailable",
    ]
    broker.core.out.clear()
    broker.core.store_failed(broker.now)
    # Sessions stay on their connections; memory is what the store holds.
    assert broker.core.state.by_rid[b"A"].user == "alice"
    assert "dev" not in broker.core.state.by_rid[b"B"].rooms
    head = broker.core.state.rooms["general"].seq
    assert head == broker.store.room_head("general")
    replies, _ = broker.handle(b"A", {"type": "chat", "room": "general", "text": "x", "ref": 3})
    assert replies[b"A"][0]["code"] == "store_unavailable"
    replies, _ = broker.handle(b"A", {"type": "ping", "ref": 4})
    assert replies[b"A"][0]["heads"] == {"general": head}
    replies, _ = broker.handle(b"C", {"type": "register", "user": "carol", "proto": 1})
    assert replies[b"C"][0]["code"] == "store_unavailable"
    # A resume needs no write: it is served.
    token = broker.core.state.by_rid[b"B"].token
    replies, _ = broker.handle(
        b"B2", {"type": "register", "user": "bob", "proto": 1, "resume": token}
    )
    assert replies[b"B2"][0]["type"] == "welcome"
    broker.core.store_recovered()
    replies, _ = broker.handle(b"A", {"type": "chat", "room": "general", "text": "y", "ref": 5})
    assert replies[b"A"][0]["seq"] == head + 1
