"""Accounts, logins and mailboxes across nodes (issue 17): an account made once with
`zmqchat account` against the engine works on every node, a password change ends
the sessions its old password opened wherever they are, and a pm queued for an
offline account holder on one node is handed over once, on whichever node they log
in. Two BrokerServers on threads, each on its own store, one real Redis."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli_helpers import run_cli
from tests.cluster.nodes import Node, peer, two_nodes
from tests.helpers import RawPeer

from zmqchat.broker import accounts
from zmqchat.broker.cluster.records import STREAM
from zmqchat.testing import wait_until
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(90)

PASSWORD = "correct horse"
NEW_PASSWORD = "battery staple"


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    with two_nodes(tmp_path, redis_server.url, auth="accounts") as pair:
        yield pair


def account_cli(
    tmp_path: Path, redis_server: RedisProcess, *args: str, password: str = PASSWORD
) -> Any:
    """`zmqchat account ARGS` against the engine (as an operator on node a's host)."""
    return run_cli(
        tmp_path, "account", *args, "--db", str(tmp_path / "a.db"), input=password,
        ZMQCHAT_ENGINE="redis", ZMQCHAT_ENGINE_URL=redis_server.url,
    )  # fmt: skip


def generation(node: Node, name: str) -> int | None:
    """The password generation of ``name``'s account in ``node``'s store (None: none)."""
    path = Path(node.server.config.db_path)
    if not path.exists():
        return None
    with sqlite3.connect(path) as db:
        try:
            account = accounts.find(db, name)
        except sqlite3.OperationalError:  # the node has not made its tables yet
            return None
    return None if account is None else account.generation


def on_both(nodes: tuple[Node, Node], name: str, wanted: int | None) -> None:
    wait_until(
        lambda: all(generation(n, name) == wanted for n in nodes),
        10,
        f"{name}'s account at generation {wanted} in both stores",
    )


def alice_logged_in(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess, **fields: Any
) -> tuple[RawPeer, str]:
    """An account alice (known to both nodes) logged in on node a: her peer and token."""
    assert account_cli(tmp_path, redis_server, "add", "alice").returncode == 0
    on_both(nodes, "alice", 1)
    first = peer(nodes[0].endpoint)
    return first, first.register("alice", password=PASSWORD, **fields)["session"]


def register(endpoint: str, user: str, password: str | None = None, **extra: Any) -> Any:
    msg = {"type": "register", "user": user, "proto": 1, **extra}
    if password is not None:
        msg["password"] = password
    return peer(endpoint).request(msg)


def bye(endpoint: str, user: str, password: str) -> None:
    """Log ``user`` in on ``endpoint`` and end the session."""
    p = peer(endpoint)
    p.register(user, password=password)
    assert "code" not in p.request({"type": "bye"})


def test_an_account_made_once_logs_in_on_every_node(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess
) -> None:
    a, b = nodes
    added = account_cli(tmp_path, redis_server, "add", "alice")
    assert added.returncode == 0, added.stderr
    on_both(nodes, "alice", 1)
    # The name is taken cluster-wide: checked in Redis, not in one node's store.
    again = account_cli(tmp_path, redis_server, "add", "Alice")
    assert again.returncode == 1
    assert "already has an account" in again.stderr

    for node in (a, b):
        assert register(node.endpoint, "alice")["code"] == "auth_failed"
        assert register(node.endpoint, "alice", "wrong horse")["code"] == "auth_failed"
        bye(node.endpoint, "alice", PASSWORD)

    deleted = account_cli(tmp_path, redis_server, "del", "alice")
    assert deleted.returncode == 0, deleted.stderr
    on_both(nodes, "alice", None)
    # A free name again, as on one broker: taken by whoever registers it first.
    assert register(a.endpoint, "alice")["type"] == "welcome"
    assert register(b.endpoint, "alice")["code"] == "name_taken"


def test_a_sign_up_on_one_node_is_an_account_on_both(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    a = Node(tmp_path / "a.db", redis_server.url, "a", auth="required", signup=True)
    try:
        b = Node(tmp_path / "b.db", redis_server.url, "b", auth="required", signup=True)
        try:
            bye(a.endpoint, "carol", PASSWORD)
            on_both((a, b), "carol", 1)
            assert register(b.endpoint, "carol", "another horse")["code"] == "auth_failed"
            bye(b.endpoint, "carol", PASSWORD)
        finally:
            b.stop()
    finally:
        a.stop()


def test_a_password_change_ends_the_old_sessions_on_both_nodes(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess
) -> None:
    a, b = nodes
    first, token = alice_logged_in(nodes, tmp_path, redis_server)
    # A token stands for the password on the other node too: resumed there.
    moved = register(b.endpoint, "alice", resume=token)
    assert moved["type"] == "welcome", moved
    assert first.recv_type("closed")["reason"] == "replaced"

    changed = account_cli(tmp_path, redis_server, "passwd", "alice", password=NEW_PASSWORD)
    assert changed.returncode == 0, changed.stderr
    on_both(nodes, "alice", 2)
    # Neither on the node holding the session nor on the other.
    for node in (b, a):
        refused = register(node.endpoint, "alice", resume=token)
        assert refused["code"] == "auth_failed", refused
    assert register(b.endpoint, "alice", PASSWORD)["code"] == "auth_failed"

    # The new password takes the session over where it is, with a new token that
    # resumes on the other node.
    again = peer(b.endpoint)
    new_token = again.register("alice", password=NEW_PASSWORD)["session"]
    assert new_token != token
    resumed = register(a.endpoint, "alice", resume=new_token)
    assert resumed["type"] == "welcome", resumed


def test_a_login_on_the_other_node_takes_the_session_over_as_on_one_broker(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess
) -> None:
    a, b = nodes
    first, token = alice_logged_in(nodes, tmp_path, redis_server, rooms=["ops"])
    watcher = peer(b.endpoint)
    watcher.register("watcher", rooms=["ops"])

    assert register(b.endpoint, "alice", "wrong horse")["code"] == "auth_failed"
    second = peer(b.endpoint)
    welcome = second.register("alice", password=PASSWORD)
    # The same session (its rooms, no leave and join), under a new token; the
    # connection on a is told it was replaced.
    assert list(welcome["rooms"]) == ["ops"], welcome
    assert welcome["session"] != token
    assert first.recv_type("closed")["reason"] == "replaced"
    members = watcher.request({"type": "who", "room": "ops"})["users"]
    assert sorted(members) == ["alice", "watcher"]
    # The old token resumes nowhere; the new one does, on either node.
    for node in (a, b):
        assert register(node.endpoint, "alice", resume=token)["code"] == "auth_failed"
    assert register(a.endpoint, "alice", resume=welcome["session"])["type"] == "welcome"


def drain(p: RawPeer) -> list[dict[str, Any]]:
    """The frames ``p`` gets before a ping's reply (answered in order)."""
    p.send({"type": "ping", "ref": "drain"})
    frames: list[dict[str, Any]] = []

    def pong() -> bool:
        frame = p.poll()
        if frame is None:
            return False
        if frame.get("ref") == "drain":
            return True
        frames.append(frame)
        return False

    wait_until(pong, 10, "the ping's reply", interval=0)
    return frames


def queued(node: Node, pm_id: int) -> Any:
    with sqlite3.connect(node.server.config.db_path) as db:
        row = db.execute("SELECT queued FROM pms WHERE id = ?", (pm_id,)).fetchone()
    return "missing" if row is None else row[0]


def test_a_pm_to_an_offline_account_holder_is_delivered_once_on_either_node(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess
) -> None:
    a, b = nodes
    assert account_cli(tmp_path, redis_server, "add", "bob").returncode == 0
    on_both(nodes, "bob", 1)
    alice = peer(a.endpoint)
    alice.register("alice")
    ack = alice.request({"type": "pm", "to": "bob", "text": "while you were out"})
    assert (ack["type"], ack["status"]) == ("ack", "queued"), ack
    wait_until(lambda: queued(b, ack["id"]) == 1, 10, "the queued pm on node b")

    bob = peer(b.endpoint)
    bob.register("bob", password=PASSWORD)
    got = drain(bob)
    assert [(f["type"], f["id"], f["text"]) for f in got] == [
        ("pm", ack["id"], "while you were out")
    ]
    # Handed over on b: a knows, so bob's next login there hands nothing again.
    wait_until(lambda: queued(a, ack["id"]) is None, 10, "the pm marked delivered on a")
    assert "code" not in bob.request({"type": "bye"})
    later = peer(a.endpoint)
    later.register("bob", password=PASSWORD)
    assert [f for f in drain(later) if f.get("type") == "pm"] == []


def test_a_node_on_a_new_store_has_the_accounts_whose_records_are_trimmed(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess, engine: Any
) -> None:
    assert account_cli(tmp_path, redis_server, "add", "alice").returncode == 0
    on_both(nodes, "alice", 1)
    engine.xtrim(STREAM, maxlen=0)  # as records_kept would, a million records later
    c = Node(tmp_path / "c.db", redis_server.url, "c", auth="accounts")
    try:
        wait_until(lambda: generation(c, "alice") == 1, 10, "alice's account on c")
        bye(c.endpoint, "alice", PASSWORD)
    finally:
        c.stop()
