"""A welcome's ``nodes`` and the epochs of ``welcome`` and ``joined``, as ClientCore
takes them (sans-IO): the live nodes join the failover order after what the user
gave, and a room whose numbering started over is followed from its new head instead
of its new seqs being taken for duplicates or gaps (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from zmqchat.client.core.connection import ClientCore
from zmqchat.client.core.failover import Rotation
from zmqchat.common.codec import decode, encode
from zmqchat.common.messages import ChatEvent, Joined, Welcome
from zmqchat.common.requests import Join

A, B, C = "tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555", "tcp://10.0.0.3:5555"


def sent(core: ClientCore) -> list[dict[str, Any]]:
    out = [decode(f, None) for f in core.outgoing]
    core.outgoing.clear()
    return out


def welcome(register: dict[str, Any], rooms: dict[str, int], **additive: Any) -> bytes:
    return encode(
        Welcome(
            user=register["user"],
            session=register["resume"],
            pub_port=6001,
            rooms=rooms,
            heartbeat=5.0,
            timeout=15.0,
            limits={},
            server="zmqchat/test",
            ref=register["ref"],
            **additive,
        )
    )


def chat(seq: int) -> bytes:
    return encode(ChatEvent(room="general", seq=seq, sender="bob", text=f"m{seq}", ts=1.0))


def delivered(core: ClientCore) -> list[int]:
    seqs = [e.seq for e in core.events if isinstance(e, ChatEvent)]
    core.events.clear()
    return seqs


def test_rotation_adds_new_endpoints_after_those_given() -> None:
    rotation = Rotation([A], seed=3)
    assert not rotation.several
    assert rotation.add([A, B, C, B]) in ((B, C), (C, B))
    assert rotation.order[0] == A
    assert sorted(rotation.order) == [A, B, C]
    assert rotation.several
    assert rotation.add([C, A]) == ()


def test_a_welcomes_nodes_become_places_to_fail_over_to() -> None:
    core = ClientCore("alice", endpoints=[A])
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, {"general": 1}, nodes=(A, B, "not an endpoint", 7)), 0.1)
    assert core.state == "connected"
    assert core.endpoints == (A, B)  # the bad entries are ignored
    core.actions.clear()
    core.on_link(False, 1.0)  # A is gone: B now, where one endpoint would stay put
    assert core.endpoint == B
    assert ("endpoint", B) in core.actions


def connected(rooms: dict[str, int], **additive: Any) -> tuple[ClientCore, dict[str, Any]]:
    core = ClientCore("alice", endpoints=[A, B], shuffle_seed=0)
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, rooms, **additive), 0.1)
    sent(core)
    core.events.clear()
    return core, register


def test_a_new_engine_epoch_starts_the_rooms_over_at_their_heads() -> None:
    core, _ = connected({"general": 9}, epoch="e1")
    core.on_link(False, 1.0)
    (register,) = sent(core)
    # The other node numbers on another engine life: seq 12 is not 3 past our 9.
    core.on_frame(welcome(register, {"general": 12}, epoch="e2"), 1.1)
    seq = core._rooms.get("general")
    assert seq is not None
    assert (seq.last, seq.epoch) == (12, "e2")
    assert [m for m in sent(core) if m["type"] == "history"] == []  # no gap to fill
    core.on_publish(b"general\x00", chat(13), 1.2)
    assert delivered(core) == [13]


def test_the_same_epoch_fills_the_gap_as_before() -> None:
    core, _ = connected({"general": 9}, epoch="e1")
    core.on_link(False, 1.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, {"general": 12}, epoch="e1"), 1.1)
    (fill,) = [m for m in sent(core) if m["type"] == "history"]
    assert fill["after"] == 9


def test_a_rooms_own_epoch_in_epochs_is_what_counts() -> None:
    core, _ = connected({"general": 9, "dev": 4}, epoch="e", epochs={"general": "g1", "dev": "d1"})
    core.on_link(False, 1.0)
    (register,) = sent(core)
    # general started over in the engine, dev did not; the engine's epoch is the same.
    core.on_frame(welcome(register, {"general": 11, "dev": 6}, epoch="e",
                          epochs={"general": "g2", "dev": "d1"}), 1.1)  # fmt: skip
    general, dev = core._rooms.get("general"), core._rooms.get("dev")
    assert general is not None
    assert dev is not None
    assert (general.last, general.epoch) == (11, "g2")
    assert (dev.last, dev.epoch) == (4, "d1")  # its gap (5, 6) is fetched
    assert [m["room"] for m in sent(core) if m["type"] == "history"] == ["dev"]


def test_a_room_without_an_epoch_in_epochs_keeps_the_one_it_had() -> None:
    core, _ = connected({"general": 9}, epoch="e", epochs={"general": "g1"})
    core.on_link(False, 1.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, {"general": 9}, epoch="e", epochs={}), 1.1)
    seq = core._rooms.get("general")
    assert seq is not None
    assert (seq.last, seq.epoch) == (9, "g1")


def test_joined_says_the_rooms_epoch() -> None:
    core, _ = connected({"general": 1}, epoch="e")
    done: list[Any] = []
    core.submit(Join(room="dev"), done.append, 0.2)
    (join,) = sent(core)
    core.on_frame(encode(Joined(room="dev", seq=3, members=("alice",), epoch="d1",
                                ref=join["ref"])), 0.3)  # fmt: skip
    seq = core._rooms.get("dev")
    assert seq is not None
    assert (seq.last, seq.epoch) == (3, "d1")


def alone(rooms: dict[str, int]) -> tuple[ClientCore, dict[str, Any]]:
    """Connected to the one broker it was given: a lost link reconnects there."""
    core = ClientCore("alice", endpoints=[A])
    core.start(0.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, rooms), 0.1)
    sent(core)
    core.events.clear()
    return core, register


def test_an_event_published_after_the_resume_was_answered_is_not_a_reset() -> None:
    """The broker restarts: our register goes out at seq 3, its welcome is written at
    seq 3, and the SUB brings seq 4 (published just after) before the welcome is
    read. The same history: no history request, and seq 4 is not delivered again."""
    core, _ = alone({"general": 2})
    core.on_publish(b"general\x00", chat(3), 0.2)
    assert delivered(core) == [3]
    core.on_link(False, 1.0)
    (register,) = sent(core)
    core.on_publish(b"general\x00", chat(4), 1.1)
    assert delivered(core) == [4]
    core.on_frame(welcome(register, {"general": 3}), 1.2)
    assert [m for m in sent(core) if m["type"] == "history"] == []
    seq = core._rooms.get("general")
    assert seq is not None
    assert seq.last == 4
    core.on_publish(b"general\x00", chat(4), 1.3)
    core.on_publish(b"general\x00", chat(5), 1.3)
    assert delivered(core) == [5]


def test_a_welcome_to_the_first_of_two_registers_is_judged_by_the_first() -> None:
    """Registers at the link's loss and at its return, on one socket, with seq 4
    delivered between them: the welcome may answer either, so seq 3 is in time."""
    core, _ = alone({"general": 3})
    core.on_link(False, 1.0)
    (first,) = sent(core)
    core.on_publish(b"general\x00", chat(4), 1.1)
    assert delivered(core) == [4]
    core.on_link(True, 1.2)
    assert [m["type"] for m in sent(core)] == ["register"]
    core.on_frame(welcome(first, {"general": 3}), 1.3)
    seq = core._rooms.get("general")
    assert seq is not None
    assert seq.last == 4
    core.on_publish(b"general\x00", chat(4), 1.4)
    assert delivered(core) == []


def test_a_head_behind_what_was_delivered_before_the_register_starts_over() -> None:
    """A store that lost its tail (same epoch): its head is behind seq 4, which we
    had before we asked. Followed from its head: its own seq 4 is a new event."""
    core, _ = alone({"general": 3})
    core.on_publish(b"general\x00", chat(4), 0.2)
    assert delivered(core) == [4]
    core.on_link(False, 1.0)
    (register,) = sent(core)
    core.on_frame(welcome(register, {"general": 3}), 1.1)
    core.on_publish(b"general\x00", chat(4), 1.2)
    assert delivered(core) == [4]
