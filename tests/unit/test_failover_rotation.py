"""Failover between broker nodes without sockets: the rotation's order and back-off,
and what ClientCore asks the driver to do when the link to a node is dead."""

from __future__ import annotations

from typing import Any

import pytest

from zmqchat.client.core.connection import ClientCore
from zmqchat.client.core.events import StatusEvent
from zmqchat.client.core.failover import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    CONNECT_WAIT,
    Rotation,
    backoff,
    shuffled,
)
from zmqchat.common.codec import decode, encode
from zmqchat.common.endpoints import check_endpoints, host_port, pub_endpoint
from zmqchat.common.messages import Closed, Welcome
from zmqchat.common.requests import Who
from zmqchat.errors import UsageError

A, B, C = "tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555", "tcp://10.0.0.3:5555"


# ------------------------------------------------------------------ the rotation


def test_the_order_is_a_shuffle_repeatable_by_seed() -> None:
    nodes = [f"tcp://10.0.0.{n}:5555" for n in range(1, 9)]
    assert shuffled(nodes, 7) == shuffled(nodes, 7)
    assert sorted(shuffled(nodes, 7)) == sorted(nodes)
    orders = {shuffled(nodes, seed) for seed in range(20)}
    assert len(orders) > 1  # not the order given every time
    assert {order[0] for order in orders} != {nodes[0]}


def test_repeats_are_dropped_and_one_endpoint_stays_put() -> None:
    assert shuffled([A, A, B, A], 1) in ((A, B), (B, A))
    rotation = Rotation([A])
    assert not rotation.several
    assert rotation.advance(1.0) == A
    assert not rotation.refused(1.0)  # nowhere to go: libzmq retries A itself
    with pytest.raises(ValueError, match="at least one endpoint"):
        Rotation([])


def test_advance_wraps_around_and_backs_off_after_each_failed_round() -> None:
    rotation = Rotation([A, B, C], seed=3)
    first = rotation.current
    seen = [first]
    for _ in range(2):
        seen.append(rotation.advance(0.0))
    assert sorted(seen) == sorted([A, B, C])
    assert rotation.rounds_failed == 0
    # The third failure ends the first round: back to the first, with a back-off.
    assert rotation.advance(10.0) == first
    assert rotation.rounds_failed == 1
    assert not rotation.refused(10.0 + BACKOFF_FIRST - 0.01)  # waited out
    assert rotation.refused(10.0 + BACKOFF_FIRST)
    assert rotation.deadline(15.0) == 10.0 + BACKOFF_FIRST + CONNECT_WAIT
    # Within a round, a refusal moves on at once.
    rotation.advance(20.0)
    assert rotation.refused(20.0)
    assert rotation.deadline(15.0) == 20.0 + CONNECT_WAIT


def test_the_back_off_doubles_up_to_its_cap_and_a_welcome_resets_it() -> None:
    assert backoff(0) == 0.0
    assert [backoff(n) for n in (1, 2, 3)] == [BACKOFF_FIRST, 2 * BACKOFF_FIRST, 4 * BACKOFF_FIRST]
    assert backoff(50) == BACKOFF_MAX
    rotation = Rotation([A, B], seed=0)
    for _ in range(6):
        rotation.advance(0.0)
    assert rotation.rounds_failed == 3
    rotation.welcomed()
    assert rotation.rounds_failed == 0
    assert rotation.refused(0.0)


def test_once_the_link_is_up_the_register_gets_the_whole_wait() -> None:
    rotation = Rotation([A, B], seed=0)
    rotation.begin(5.0)
    assert rotation.deadline(15.0) == 5.0 + CONNECT_WAIT
    rotation.linked(5.2)
    assert rotation.deadline(15.0) == 5.2 + 15.0


def test_endpoint_strings() -> None:
    assert check_endpoints(f"{A}, {B},{A}") == (A, B)
    assert check_endpoints([B]) == (B,)
    assert host_port(A) == ("10.0.0.1", 5555)
    assert pub_endpoint(B, 6000) == "tcp://10.0.0.2:6000"
    for bad in ("", "10.0.0.1:5555", "tcp://h", "tcp://h:0", "tcp://h:70000", ","):
        with pytest.raises(UsageError):
            check_endpoints(bad)


# --------------------------------------------------------------- the core moving


def sent(core: ClientCore) -> list[dict[str, Any]]:
    out = [decode(f, None) for f in core.outgoing]
    core.outgoing.clear()
    return out


def take(items: list[Any]) -> list[Any]:
    out = list(items)
    items.clear()
    return out


def welcome(register: dict[str, Any], pub_port: int = 6001, **rooms: int) -> bytes:
    return encode(
        Welcome(
            user=register["user"],
            session=register["resume"],
            pub_port=pub_port,
            rooms=rooms or {"general": 1},
            heartbeat=5.0,
            timeout=15.0,
            limits={},
            server="zmqchat/test",
            ref=register["ref"],
        )
    )


def on_node(first: str = A, now: float = 0.0) -> ClientCore:
    """A core with nodes A and B, registered on ``first``; outputs cleared."""
    seed = next(s for s in range(100) if shuffled([A, B], s)[0] == first)
    core = ClientCore("alice", endpoints=[A, B], shuffle_seed=seed)
    core.start(now)
    assert core.endpoint == first
    (register,) = sent(core)
    core.on_frame(welcome(register), now)
    assert core.state == "connected"
    take(core.actions)
    take(core.events)
    return core


def test_a_dropped_link_moves_to_the_next_node_and_resumes_there() -> None:
    core = on_node(A)
    core.on_link(False, 1.0)
    assert core.state == "reconnecting"
    assert core.endpoint == B
    assert take(core.actions) == [("endpoint", B), ("reset", None)]
    (lost,) = take(core.events)
    assert (lost.state, lost.reason, lost.endpoint) == ("reconnecting", "connection lost", A)
    (register,) = sent(core)
    assert (register["type"], register["resume"]) == ("register", core.session)
    core.on_link(True, 1.01)
    core.on_frame(welcome(register, pub_port=6001), 1.02)
    (back,) = [e for e in take(core.events) if isinstance(e, StatusEvent)]
    assert (back.state, back.resumed, back.endpoint) == ("connected", True, B)
    # Another node's PUB, though on the same port number: a SUB socket of its own.
    assert ("sub_connect", 6001) in take(core.actions)


def test_silence_a_shutdown_and_an_unanswered_register_each_move_on() -> None:
    core = on_node(A)
    core.tick(15.5)  # no frame for longer than the timeout
    assert (core.state, core.endpoint) == ("reconnecting", B)

    core = on_node(A)
    core.on_frame(encode(Closed(reason="shutdown")), 1.0)
    assert (core.state, core.endpoint) == ("reconnecting", B)

    core = on_node(A)
    core.on_link(False, 1.0)  # now trying B
    core.on_link(True, 1.1)
    core.tick(1.1 + 15.0)
    assert core.endpoint == B  # the register has its whole time
    core.tick(1.1 + 15.01)
    assert core.endpoint == A  # and then it is B's turn to be given up on
    assert ("endpoint", A) in take(core.actions)


def test_a_closed_for_timeout_registers_again_on_the_same_live_node() -> None:
    core = on_node(A)
    core.on_frame(encode(Closed(reason="timeout")), 1.0)
    assert (core.state, core.endpoint) == ("reconnecting", A)
    assert ("reset", None) not in core.actions
    (register,) = sent(core)
    assert register["type"] == "register"


def test_a_refused_connect_moves_on_at_once_but_waits_out_a_back_off() -> None:
    core = ClientCore("alice", endpoints=[A, B], shuffle_seed=0)
    core.start(0.0)
    first = core.endpoint
    core.on_connect_retried(0.01)
    assert core.endpoint != first
    core.on_connect_retried(0.02)  # the second node refuses too: a round is over
    assert core.endpoint == first
    assert core.state == "connecting"
    take(core.actions)
    core.on_connect_retried(0.03)  # libzmq's own retries during the back-off
    assert core.endpoint == first
    assert core.actions == []
    assert core.next_deadline() == pytest.approx(0.02 + BACKOFF_FIRST + CONNECT_WAIT)
    core.on_connect_retried(0.02 + BACKOFF_FIRST)
    assert core.endpoint != first


def test_a_handshake_that_never_completes_is_given_connect_wait() -> None:
    core = ClientCore("alice", endpoints=[A, B], shuffle_seed=0)
    core.start(0.0)
    first = core.endpoint
    core.tick(CONNECT_WAIT)
    assert core.endpoint == first
    core.tick(CONNECT_WAIT + 0.01)
    assert core.endpoint != first


def test_requests_waiting_during_a_failover_go_to_the_new_node() -> None:
    core = on_node(A)
    core.on_link(False, 1.0)
    (register,) = sent(core)
    done: list[Any] = []
    core.submit(Who(), done.append, 1.1)
    assert sent(core) == []  # held until a node takes us
    core.on_frame(welcome(register), 1.2)
    assert [m["type"] for m in sent(core)] == ["who"]


def test_a_node_behind_what_we_delivered_starts_the_room_over() -> None:
    core2 = on_node(A)
    seq = core2._rooms.get("general")
    assert seq is not None
    seq.last = seq.head = 9  # nine events delivered on a
    core2.on_link(False, 1.0)
    (register,) = sent(core2)
    core2.on_frame(welcome(register, general=3), 1.1)  # b, with a store of its own
    assert (seq.last, seq.head) == (3, 3)


def test_a_single_endpoint_never_moves() -> None:
    core = ClientCore("alice", endpoints=[A])
    core.start(0.0)
    core.on_connect_retried(0.1)
    core.on_link(False, 0.2)
    core.tick(16.0)
    assert core.endpoint == A
    assert ("endpoint", A) not in core.actions
    assert ("reset", None) in core.actions
