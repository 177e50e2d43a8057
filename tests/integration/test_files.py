"""File transfers against a real broker (docs/protocol.md §2.16): the library's
send_file/get_file, and the wire spoken byte for byte where a well-behaved client
can't go (corrupt or misplaced chunks)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.aio import AsyncClient
from zmqchat.common.files import CHUNK_BYTES, FileEvent, PrivateFileEvent
from zmqchat.errors import BrokerError, Timeout
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)

MakeClient = Callable[..., Client]


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def connect(broker: BrokerProcess, clients: list[Client], user: str, *rooms: str) -> Client:
    client = Client(user, broker.endpoint, rooms=rooms or ("general",))
    clients.append(client)
    client.connect()
    return client


def raw(broker: BrokerProcess, peers: list[RawPeer], user: str, *rooms: str) -> RawPeer:
    peer = RawPeer(broker.endpoint)
    peers.append(peer)
    peer.register(user, rooms=list(rooms or ("general",)))
    return peer


def write(path: Path, size: int, seed: int = 1) -> Path:
    # Not a repeated pattern: a chunk landing at the wrong offset must show.
    block = hashlib.sha256(str(seed).encode()).digest()
    data = (block * (size // len(block) + 1))[:size]
    data = bytes(b ^ (i * 7 & 0xFF) for i, b in enumerate(data))
    path.write_bytes(data)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_events(client: Client, room: str) -> list[FileEvent]:
    page = client.history(room)
    return [e for e in page.messages if isinstance(e, FileEvent)]


def files_dir(broker: BrokerProcess) -> Path:
    return Path(broker.db).parent / "files"


def offer(peer: RawPeer, data: bytes, **fields: Any) -> dict[str, Any]:
    msg = {"type": "file_offer", "name": "x.bin", "size": len(data), "sha256": sha(data)}
    return peer.request({**msg, "room": "general", **fields})


# ------------------------------------------------------------------- round trip


def test_a_room_file_is_published_checked_and_fetched_by_a_member(broker, clients, tmp_path):
    alice = connect(broker, clients, "alice")
    bob = connect(broker, clients, "bob")
    source = write(tmp_path / "report.bin", 5 * CHUNK_BYTES + 123)
    seen: list[tuple[int, int]] = []

    done = alice.send_file(source, room="general", progress=lambda d, n: seen.append((d, n)))

    assert done.room == "general"
    assert done.sha256 == sha(source.read_bytes())
    assert seen[-1] == (source.stat().st_size, source.stat().st_size)
    event = wait_until(
        lambda: next((e for e in bob_events(bob) if isinstance(e, FileEvent)), None),
        10,
        "bob to see the file event",
    )
    assert (event.sender, event.name, event.id, event.seq) == (
        "alice",
        "report.bin",
        done.id,
        done.seq,
    )
    # Stored like any event: history (and so gap filling) carries it.
    assert [e.id for e in file_events(bob, "general")] == [done.id]

    fetched = bob.get_file(event.id, tmp_path / "copy.bin")
    assert fetched.path.read_bytes() == source.read_bytes()
    assert fetched.sha256 == done.sha256
    assert not list(tmp_path.glob(".zmqchat-*.part"))
    # Kept private to the broker's user, as the store is.
    blob = files_dir(broker) / "blobs" / done.sha256[:2] / done.sha256
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    for folder in (blob.parent, files_dir(broker), files_dir(broker) / "parts"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


_seen: dict[int, list[Any]] = {}


def bob_events(client: Client) -> list[Any]:
    """Every event the client has been handed so far (kept across calls)."""
    got = _seen.setdefault(id(client), [])
    while True:
        try:
            got.append(client.next_event(timeout=0.05))
        except Timeout:
            return got


def test_an_empty_file_and_a_folder_destination(broker, clients, tmp_path):
    alice = connect(broker, clients, "alice")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    done = alice.send_file(empty, room="general")
    out = tmp_path / "out"
    out.mkdir()
    fetched = alice.get_file(done.id, out)
    assert fetched.path == out / "empty.txt"
    assert fetched.path.read_bytes() == b""


def test_the_same_content_twice_is_stored_once_and_sent_at_once(broker, clients, peers, tmp_path):
    alice = connect(broker, clients, "alice", "general", "dev")
    source = write(tmp_path / "a.bin", 3 * CHUNK_BYTES)
    first = alice.send_file(source, room="general")

    peer = raw(broker, peers, "carol", "dev")
    again = offer(peer, source.read_bytes(), room="dev", name="copy.bin")
    # Done at once: no accept, no chunk.
    assert again["type"] == "file_done", again
    assert again["id"] != first.id
    assert again["seq"] == 3  # dev: alice's join, carol's join, then the file
    blobs = [p for p in (files_dir(broker) / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert [e.name for e in file_events(alice, "dev")] == ["copy.bin"]


# --------------------------------------------------------------------- integrity


def test_a_corrupt_chunk_is_refused_at_the_end_and_nothing_is_published(broker, peers):
    peer = raw(broker, peers, "mallory")
    good = os.urandom(2 * CHUNK_BYTES)
    accept = offer(peer, good)
    assert accept["type"] == "file_accept", accept
    assert (accept["offset"], accept["chunk"]) == (0, CHUNK_BYTES)
    head = peer.request({"type": "ping"})["heads"]["general"]

    bad = bytearray(good)
    bad[CHUNK_BYTES + 5] ^= 0xFF
    first = peer.request({"type": "file_chunk", "id": accept["id"], "offset": 0,
                          "data": bytes(bad[:CHUNK_BYTES])})  # fmt: skip
    assert first == {"type": "file_ack", "id": accept["id"], "offset": CHUNK_BYTES,
                     "ref": first["ref"]}  # fmt: skip
    last = peer.request({"type": "file_chunk", "id": accept["id"], "offset": CHUNK_BYTES,
                         "data": bytes(bad[CHUNK_BYTES:])})  # fmt: skip
    assert last["type"] == "error", last
    assert last["code"] == "hash_mismatch"
    assert peer.request({"type": "ping"})["heads"]["general"] == head  # nothing published
    got = peer.request({"type": "file_get", "id": accept["id"], "offset": 0})
    assert got["code"] == "no_such_file", got
    # The same content sent right is accepted afresh, from 0.
    assert offer(peer, good)["offset"] == 0


def test_misplaced_chunks_are_refused_and_the_broker_goes_on(broker, peers):
    peer = raw(broker, peers, "mallory")
    other = raw(broker, peers, "eve")
    data = os.urandom(1000)
    upload = offer(peer, data)["id"]

    def chunk(who: RawPeer, **fields: Any) -> dict[str, Any]:
        return who.request({"type": "file_chunk", "id": upload, "offset": 0, "data": data,
                            **fields})  # fmt: skip

    assert chunk(peer, offset=10)["code"] == "bad_request"  # not where the upload stands
    assert chunk(peer, id=upload + 100)["code"] == "no_such_file"
    assert chunk(other)["code"] == "no_such_file"  # someone else's upload
    assert chunk(peer, data=b"x" * (CHUNK_BYTES + 1))["code"] == "bad_request"
    assert chunk(peer, data=data + b"more")["code"] == "bad_request"  # past the end
    assert chunk(peer, data="text")["code"] == "bad_request"
    assert chunk(peer)["type"] == "file_done"
    assert peer.request({"type": "ping"})["type"] == "pong"


# ---------------------------------------------------------------- access control


def test_a_room_file_is_for_its_members_only(broker, clients, peers, tmp_path):
    alice = connect(broker, clients, "alice", "ops")
    done = alice.send_file(write(tmp_path / "plan.txt", 100), room="ops")
    outsider = raw(broker, peers, "eve", "general")
    got = outsider.request({"type": "file_get", "id": done.id, "offset": 0})
    assert got["code"] == "not_in_room", got
    # Fetching does not join: eve is still outside.
    assert outsider.request({"type": "who", "room": "ops"})["users"] == ["alice"]
    refused = outsider.request({"type": "file_offer", "room": "ops", "name": "x", "size": 1,
                                "sha256": sha(b"x")})  # fmt: skip
    assert refused["code"] == "not_in_room"


def test_a_private_file_reaches_its_recipient_and_no_one_else(broker, clients, peers, tmp_path):
    alice = connect(broker, clients, "alice")
    bob = connect(broker, clients, "bob")
    source = write(tmp_path / "secret.bin", CHUNK_BYTES + 1)
    done = alice.send_file(source, to="bob")
    assert (done.to, done.status, done.room) == ("bob", "delivered", None)
    event = wait_until(
        lambda: next((e for e in bob_events(bob) if isinstance(e, PrivateFileEvent)), None),
        10,
        "bob to be handed the file",
    )
    assert (event.sender, event.to, event.id) == ("alice", "bob", done.id)
    assert bob.get_file(done.id, tmp_path / "got").path.read_bytes() == source.read_bytes()
    assert alice.get_file(done.id, tmp_path / "mine").path.read_bytes() == source.read_bytes()
    eve = raw(broker, peers, "eve")
    assert eve.request({"type": "file_get", "id": done.id, "offset": 0})["code"] == "no_such_file"
    with pytest.raises(BrokerError) as exc:
        alice.send_file(source, to="nobody")
    assert exc.value.code == "no_such_user"


# ---------------------------------------------------------------------- limits


def test_limits_refuse_an_offer_before_a_byte_is_sent(make_broker, peers):
    broker = make_broker(max_file_size=10_000, file_quota=15_000)
    peer = raw(broker, peers, "alice")
    big = offer(peer, b"x" * 10_001)
    assert big["code"] == "too_large", big
    assert offer(peer, b"a" * 9_000)["type"] == "file_accept"  # reserved while under way
    over = offer(peer, b"b" * 9_000)
    assert over["code"] == "quota_exceeded", over

    full = make_broker(disk_floor=2**62)
    other = raw(full, peers, "bob")
    assert offer(other, b"c" * 10)["code"] == "disk_full"


# ---------------------------------------------------------------------- resume


def test_an_upload_resumes_where_the_broker_stands(broker, clients, peers, tmp_path):
    """A sender that dies mid-transfer (here: stops after two chunks) sends again:
    the broker answers with the offset it holds and only the rest is sent."""
    source = write(tmp_path / "big.bin", 6 * CHUNK_BYTES + 7)
    data = source.read_bytes()
    peer = raw(broker, peers, "alice")
    accept = offer(peer, data, name="big.bin")
    for offset in (0, CHUNK_BYTES):
        reply = peer.request({"type": "file_chunk", "id": accept["id"], "offset": offset,
                              "data": data[offset : offset + CHUNK_BYTES]})  # fmt: skip
        assert reply["type"] == "file_ack"
    peer.request({"type": "bye"})
    peer.close()

    alice = wait_until(lambda: _connect_again(broker, clients), 20, "the name to be free")
    seen: list[int] = []
    done = alice.send_file(source, room="general", progress=lambda d, n: seen.append(d))
    assert done.id == accept["id"]
    assert seen[0] == 2 * CHUNK_BYTES  # the first progress is the broker's offset
    assert alice.get_file(done.id, tmp_path / "back.bin").path.read_bytes() == data


def _connect_again(broker: BrokerProcess, clients: list[Client]) -> Client | None:
    try:
        return connect(broker, clients, "alice")
    except BrokerError:
        return None


# ---------------------------------------------------------------------- asyncio


def test_the_asyncio_face_sends_and_fetches_the_same_way(broker, tmp_path):
    source = write(tmp_path / "a.bin", 9 * CHUNK_BYTES + 3)  # more than a window

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint) as alice:
            seen: list[int] = []
            done = await alice.send_file(
                source, room="general", progress=lambda d, n: seen.append(d)
            )
            assert seen == sorted(seen)
            assert seen[-1] == source.stat().st_size
            fetched = await alice.get_file(done.id, tmp_path / "b.bin")
            assert fetched.path.read_bytes() == source.read_bytes()
            with pytest.raises(BrokerError) as exc:
                await alice.get_file(done.id + 1, tmp_path / "c.bin")
            assert exc.value.code == "no_such_file"

    asyncio.run(asyncio.wait_for(main(), 45))
