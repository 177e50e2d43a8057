"""The cluster's records (cluster/records.py): private history is the same on every
node, whichever node took a message, after a resume, and on a node that was down
meanwhile (issue 17). Two BrokerServers on threads, each on its own store, one real
Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis
from tests.cluster.nodes import Node, peer, two_nodes
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.broker.cluster.names import RedisNames
from zmqchat.broker.cluster.records import (
    STREAM,
    Mark,
    RecordLog,
    RedisRecords,
    check_mark,
    read_mark,
)
from zmqchat.broker.records import PmFields
from zmqchat.broker.search_index import find_pms
from zmqchat.broker.store import Store
from zmqchat.errors import BrokerError, StoreError
from zmqchat.testing import expect, wait_until
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    with two_nodes(tmp_path, redis_server.url) as pair:
        yield pair


def conversation(asker: RawPeer, other: str) -> list[tuple[Any, ...]]:
    """``history with`` as (id, from, to, text) rows."""
    page = asker.request({"type": "history", "with": other, "limit": 100})
    assert page["type"] == "history", page
    return [(m["id"], m["from"], m["to"], m["text"]) for m in page["messages"]]


def test_private_history_is_the_same_on_every_node_and_after_a_resume(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    alice, bob = peer(a.endpoint), peer(b.endpoint)
    welcome = alice.register("alice")
    bob.register("bob")
    sent = []
    for n in range(6):
        sender, to, text = (alice, "bob", f"a{n}") if n % 2 == 0 else (bob, "alice", f"b{n}")
        ack = sender.request({"type": "pm", "to": to, "text": text})
        assert (ack["type"], ack["status"]) == ("ack", "delivered"), ack
        sent.append((ack["id"], text))
    want = [(pm_id, "alice" if t[0] == "a" else "bob", "bob" if t[0] == "a" else "alice", t)
            for pm_id, t in sent]  # fmt: skip
    # Each node holds the other's messages once its feed brought them.
    wait_until(lambda: conversation(alice, "bob") == want, 10, "alice's history on a")
    wait_until(lambda: conversation(bob, "alice") == want, 10, "bob's history on b")
    # Search reads the same copy: alice's words, found on bob's node.
    found = bob.request({"type": "search", "words": "a2", "with": "alice"})
    assert [m["id"] for m in found["matches"]] == [sent[2][0]], found
    # Alice's client loses node a and resumes on b: the same conversation there.
    moved = peer(b.endpoint)
    moved.register("alice", resume=welcome["session"])
    assert conversation(moved, "bob") == want
    ack = moved.request({"type": "pm", "to": "bob", "text": "from b now"})
    assert ack["status"] == "delivered"
    want.append((ack["id"], "alice", "bob", "from b now"))
    assert conversation(moved, "bob") == want
    wait_until(lambda: conversation(bob, "alice") == want, 10, "bob's history after the resume")
    # A third party sees none of it, on either node.
    for node in (a, b):
        carol = peer(node.endpoint)
        carol.register(f"carol-{node.server.config.node_name}")
        assert conversation(carol, "alice") == []


def test_a_node_that_was_down_catches_up_from_its_mark(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    a = Node(tmp_path / "a.db", redis_server.url, "a")
    b = Node(tmp_path / "b.db", redis_server.url, "b")
    try:
        alice, bob = peer(a.endpoint), peer(a.endpoint)
        welcome = alice.register("alice")
        bob.register("bob")
        first = alice.request({"type": "pm", "to": "bob", "text": "before"})["id"]
        b.stop()
        later = [alice.request({"type": "pm", "to": "bob", "text": f"while b was down {n}"})["id"]
                 for n in range(3)]  # fmt: skip
        b = Node(tmp_path / "b.db", redis_server.url, "b")  # on the same store
        moved = peer(b.endpoint)
        moved.register("alice", resume=welcome["session"])
        ids = [first, *later]
        wait_until(lambda: [row[0] for row in conversation(moved, "bob")] == ids, 10,
                   "node b caught up")  # fmt: skip
        # And it follows on from there.
        more = bob.request({"type": "pm", "to": "alice", "text": "welcome back"})
        assert more["status"] == "delivered"
        wait_until(lambda: [row[0] for row in conversation(moved, "bob")] == [*ids, more["id"]],
                   10, "node b follows on")  # fmt: skip
    finally:
        b.stop()
        a.stop()


def test_a_pm_redis_refuses_is_refused_and_stored_nowhere(
    nodes: tuple[Node, Node], redis_server: RedisProcess
) -> None:
    a, _ = nodes
    alice, bob = peer(a.endpoint), peer(a.endpoint)
    alice.register("alice")
    bob.register("bob")
    kept = alice.request({"type": "pm", "to": "bob", "text": "kept"})
    assert kept["status"] == "delivered"
    redis_server.kill()
    refused = alice.request({"type": "pm", "to": "bob", "text": "lost"}, timeout=10)
    assert (refused["type"], refused["code"]) == ("error", "store_unavailable")
    assert [row[3] for row in conversation(alice, "bob")] == ["kept"]


def test_an_undelivered_pm_leaves_every_nodes_history(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice, bob, carol = peer(a.endpoint), peer(b.endpoint), peer(b.endpoint)
    alice.register("alice")
    bob.register("bob")
    carol.register("carol")
    bob.sock.close(0)  # his session waits on node b, with no connection to take it
    reply = alice.request({"type": "pm", "to": "bob", "text": "anyone?"}, timeout=10)
    assert (reply["type"], reply["code"]) == ("error", "user_offline")
    # A record written after the drop: once b holds it, b has applied the drop too.
    ack = alice.request({"type": "pm", "to": "carol", "text": "marker"})
    wait_until(lambda: conversation(carol, "alice") != [], 10, "the marker on b")
    assert [row[0] for row in conversation(carol, "alice")] == [ack["id"]]
    assert conversation(alice, "bob") == []


def test_a_store_behind_what_redis_trimmed_is_refused(engine: redis.Redis) -> None:
    log = RecordLog(engine, "n", kept=1000)
    assert log.read("0-0") == []
    assert check_mark(log, None, "new.db") == "0-0"
    row = msgpack.packb(list(PmFields(1.0, "a", "b", "x", None, 1, 2, None)))
    log.append("pm", row, "zc:pm:id")
    early = log.read("0-0")[-1]
    early_mark = Mark(early.stream_id, early.ordinal)
    assert check_mark(log, early_mark, "early.db") == early.stream_id
    for _ in range(3000):
        log.append("pm", row, "zc:pm:id")
    kept = log.read("0-0", count=5000)
    assert len(kept) < 3001  # trimmed
    assert engine.xlen(STREAM) == len(kept)
    assert [e.ordinal for e in kept] == list(range(kept[0].ordinal, 3002))
    assert check_mark(log, None, "new.db") == "0-0"  # a new store takes what is kept
    with pytest.raises(StoreError, match="trimmed"):
        check_mark(log, early_mark, "early.db")
    # Right before the first kept entry: nothing missed.
    just = Mark("1-0", kept[0].ordinal - 1)
    assert check_mark(log, just, "just.db") == "1-0"
    with pytest.raises(StoreError, match="trimmed"):
        check_mark(log, Mark("1-0", kept[0].ordinal - 2), "behind.db")


@pytest.fixture
def filing_nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    """Two nodes, each with its store in a folder of its own, and one files folder
    both mount (files_dir)."""
    shared = tmp_path / "shared-files"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Node(tmp_path / "a" / "a.db", redis_server.url, "a", files_dir=str(shared))
    try:
        b = Node(tmp_path / "b" / "b.db", redis_server.url, "b", files_dir=str(shared))
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def test_a_file_sent_through_one_node_is_fetched_through_the_other(
    filing_nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    a, b = filing_nodes
    source = tmp_path / "notes.bin"
    source.write_bytes(os.urandom(3 * 65536 + 123))
    with (
        Client("alice", a.endpoint) as alice,
        Client("bob", b.endpoint) as bob,
        Client("carol", b.endpoint, rooms=["elsewhere"]) as carol,
    ):
        expect(alice, "presence", user="bob", event="join")
        room_file = alice.send_file(source, room="general")
        private = alice.send_file(source, to="carol", name="for-carol.bin")
        assert room_file.id != private.id  # the cluster's ids
        # A member of the room, on the other node.
        copy = tmp_path / "bob.bin"
        wait_until(lambda: _fetched(bob, room_file.id, copy), 10, "bob's copy through b")
        assert copy.read_bytes() == source.read_bytes()
        # Not a member: refused, as on one broker.
        with pytest.raises(BrokerError) as refused:
            carol.get_file(room_file.id, tmp_path / "carol-room.bin")
        assert refused.value.code == "not_in_room"
        # A private file: its recipient on the other node is told, as on one broker
        # (delivered), may fetch it there, and nobody else may.
        assert private.status == "delivered"
        told = expect(carol, "file", id=private.id)
        assert (told.sender, told.name) == ("alice", "for-carol.bin")
        mine = tmp_path / "carol.bin"
        wait_until(lambda: _fetched(carol, private.id, mine), 10, "carol's copy through b")
        assert mine.read_bytes() == source.read_bytes()
        with pytest.raises(BrokerError) as hidden:
            bob.get_file(private.id, tmp_path / "bob-private.bin")
        assert hidden.value.code == "no_such_file"


def _fetched(client: Client, file_id: int, path: Path) -> bool:
    """Fetched, or not yet known on the client's node (its records are behind)."""
    try:
        client.get_file(file_id, path)
    except BrokerError as exc:
        if exc.code != "no_such_file":
            raise
        return False
    return True


def test_a_deleted_file_goes_on_every_node(filing_nodes: tuple[Node, Node], tmp_path: Path) -> None:
    a, b = filing_nodes
    source = tmp_path / "gone.bin"
    source.write_bytes(b"soon gone")
    with Client("alice", a.endpoint) as alice, Client("bob", b.endpoint) as bob:
        expect(alice, "presence", user="bob", event="join")
        done = alice.send_file(source, room="general")
        wait_until(lambda: _fetched(bob, done.id, tmp_path / "first.bin"), 10, "bob's copy")
        alice.delete("general", done.seq)
        expect(bob, "delete", of=done.seq)
        wait_until(lambda: not _fetched(bob, done.id, tmp_path / "again.bin"), 10, "gone on b")


def _pm(text: str, sender: str = "alice", to: str = "bob") -> PmFields:
    return PmFields(1.0, sender, to, text, None, 1, 2, None)


def _texts(store: Store) -> list[str]:
    return [row[0] for row in store.reader().execute("SELECT text FROM pms ORDER BY id")]


def test_a_node_skips_its_own_records_unless_its_commit_failed(
    engine: redis.Redis, tmp_path: Path
) -> None:
    a, b = RedisRecords(RecordLog(engine, "a")), RedisRecords(RecordLog(engine, "b"))
    store_a, store_b = Store(str(tmp_path / "a.db")), Store(str(tmp_path / "b.db"))
    try:
        for text in ("one", "two"):
            fields = _pm(text)
            store_a.add_pm(*fields[:8], pm_id=a.pm(fields))
        store_a.commit()
        entries = a.log.read("0-0")
        b.apply(store_b, entries)
        assert _texts(store_b) == ["one", "two"]
        a.apply(store_a, entries)  # its own: skipped, nothing to add
        assert not a.mine
        assert _texts(store_a) == ["one", "two"]
        # A drop by a: b drops it too; a, which dropped it already, skips it.
        a.drop_pm(entries[0].id)
        store_a.writer().execute("DELETE FROM pms WHERE id = ?", (entries[0].id,))
        drop = a.log.read(entries[-1].stream_id)
        b.apply(store_b, drop)
        a.apply(store_a, drop)
        assert _texts(store_a) == _texts(store_b) == ["two"]
        store_a.commit()
        # A commit that failed: a's rows are gone, not its records; a applies them.
        fields = _pm("three")
        store_a.add_pm(*fields[:8], pm_id=a.pm(fields))
        store_a.rollback()
        a.store_failed()
        a.apply(store_a, a.log.read(drop[-1].stream_id))
        assert _texts(store_a) == ["two", "three"]
        mark = read_mark(store_a)
        assert mark is not None
        assert mark.ordinal == 4  # one, two, the drop, three
    finally:
        store_a.close()
        store_b.close()


def test_another_nodes_pm_is_found_though_its_id_is_below_what_was_indexed(
    engine: redis.Redis, tmp_path: Path
) -> None:
    a, b = RedisRecords(RecordLog(engine, "a")), RedisRecords(RecordLog(engine, "b"))
    store_b = Store(str(tmp_path / "b.db"))
    try:
        early = a.pm(_pm("early bird"))  # a's, read by b later
        mine = _pm("worm", "bob", "carol")
        store_b.add_pm(*mine[:8], pm_id=b.pm(mine))
        store_b.commit()
        assert find_pms(store_b.searchable(), "worm", ("1", []), None, 10)[0]  # indexed past
        b.apply(store_b, b.log.read("0-0"))
        store_b.commit()
        found, _ = find_pms(store_b.searchable(), "bird", ("1", []), None, 10)
        assert [pm.id for pm in found] == [early]
    finally:
        store_b.close()


def test_a_node_behind_what_redis_trimmed_refuses_to_start(
    engine: redis.Redis, redis_server: RedisProcess, tmp_path: Path
) -> None:
    path = tmp_path / "behind.db"
    store = Store(str(path))
    writer = RedisRecords(RecordLog(engine, "elsewhere", kept=1000))
    first = writer.pm(_pm("seen"))
    assert first is not None
    writer.apply(store, writer.log.read("0-0"))  # its own: only the mark moves
    store.commit()
    store.close()
    for n in range(3000):  # while this node is down: more than Redis keeps
        writer.pm(_pm(f"missed {n}"))
    config = tmp_path / "broker.toml"
    config.write_text('engine = "redis"\nrecords_kept = 1000\n')
    env = {**os.environ, "ZMQCHAT_ENGINE_URL": redis_server.url, "ZMQCHAT_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-m", "zmqchat", "broker", "--db", str(path), "--port", "0",
         "--pub-port", "0"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "trimmed" in done.stderr
    assert "docs/scaling.md" in done.stderr


def test_a_redis_that_lost_its_counters_hands_out_no_id_a_node_holds(
    engine: redis.Redis, tmp_path: Path
) -> None:
    store = Store(str(tmp_path / "a.db"))
    try:
        fields = _pm("kept")
        store.add_pm(*fields[:8], pm_id=50)
        store.add_session("t", "alice", [], None, 1.0, sid=40)
        store.commit()
        records, names = RedisRecords(RecordLog(engine, "a")), RedisNames(engine, "a")
        records.start(store)
        names.sids_past(store.last_sid())
        engine.flushall()  # Redis restarted empty
        assert records.pm(_pm("next")) == 51
        assert names.claim("bob", "bob", "token-b", [], None) == 41
        # And another node's ids it applied count too.
        other = RedisRecords(RecordLog(engine, "b"))
        other.pm(_pm("b's"))
        records.apply(store, records.log.read("0-0"))
        engine.flushall()
        assert records.pm(_pm("after")) == 53
    finally:
        store.close()
