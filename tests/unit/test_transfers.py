"""File transfers without sockets: the broker's Transfers through BrokerCore (real
store, real files folder, a fake wall clock), and the client's Upload and Download
machines driven by hand with the broker's answers."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import Broker

from zmqchat.broker.blobs import KEPT_OPEN
from zmqchat.broker.schema import SCHEMA_VERSION
from zmqchat.broker.store import Store
from zmqchat.client.core.transfers import MAX_RETRIES, Download, Upload
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig
from zmqchat.common.files import (
    CHUNK_BYTES,
    WINDOW,
    FileAccept,
    FileAck,
    FileChunk,
    FileData,
    FileDone,
    FileGet,
    FileOffer,
)
from zmqchat.errors import BrokerError, ProtocolError, Timeout

A, B = b"rid-a", b"rid-b"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    config = BrokerConfig(data_dir=str(tmp_path / "data"), upload_expiry=3600.0)
    b = Broker(str(tmp_path / "broker.db"), config)
    b.register(A, "alice")
    b.register(B, "bob")
    yield b
    b.close()


def offer(data: bytes, **fields: Any) -> dict[str, Any]:
    return {"type": "file_offer", "room": "general", "name": "f.bin", "size": len(data),
            "sha256": sha(data), **fields}  # fmt: skip


def chunk(upload: int, offset: int, data: bytes) -> dict[str, Any]:
    return {"type": "file_chunk", "id": upload, "offset": offset, "data": data}


# ------------------------------------------------------------------------ broker


def test_an_unfinished_upload_is_dropped_after_upload_expiry(broker: Broker, tmp_path: Path):
    data = os.urandom(3000)
    upload = broker.reply(A, offer(data))["id"]
    broker.reply(A, chunk(upload, 0, data[:1000]))
    part = tmp_path / "data" / "files" / "parts" / str(upload)
    assert part.stat().st_size == 1000

    broker.wall += 3000  # not yet
    broker.core.expire(broker.now)
    broker.flush()
    assert part.exists()
    broker.wall += 601
    broker.now += 61  # the sweep runs at most once a minute
    broker.core.expire(broker.now)
    broker.flush()
    assert not part.exists()
    broker.register(A, "alice")  # its session timed out meanwhile
    gone = broker.reply(A, chunk(upload, 1000, data[1000:]))
    assert gone["code"] == "no_such_file"
    assert broker.reply(A, offer(data))["offset"] == 0  # a fresh upload


def test_an_offer_again_resumes_from_what_the_part_holds_even_after_a_restart(broker: Broker):
    data = os.urandom(2 * CHUNK_BYTES)
    upload = broker.reply(A, offer(data))["id"]
    assert broker.reply(A, chunk(upload, 0, data[:CHUNK_BYTES]))["offset"] == CHUNK_BYTES
    token = broker.core.state.by_rid[A].token
    broker.restart()  # the running sha256 is lost: hashed again from the part file
    broker.register(A, "alice", resume=token)
    again = broker.reply(A, offer(data, name="renamed.bin"))
    assert (again["type"], again["id"], again["offset"]) == ("file_accept", upload, CHUNK_BYTES)
    done = broker.reply(A, chunk(upload, CHUNK_BYTES, data[CHUNK_BYTES:]))
    assert done["type"] == "file_done", done
    got = broker.reply(A, {"type": "file_get", "id": upload, "offset": CHUNK_BYTES - 1})
    assert (got["name"], got["eof"]) == ("renamed.bin", False)
    assert got["data"] == data[CHUNK_BYTES - 1 : 2 * CHUNK_BYTES - 1]
    end = broker.reply(A, {"type": "file_get", "id": upload, "offset": 2 * CHUNK_BYTES - 1})
    assert (end["data"], end["eof"]) == (data[-1:], True)


def test_more_uploads_and_downloads_than_descriptors_kept_open_interleave(broker: Broker):
    # Each chunk goes to another upload than the last: every descriptor kept open is
    # closed for another before it is used again, and nothing gets mixed up.
    count = KEPT_OPEN + 4
    datas = [os.urandom(2 * CHUNK_BYTES + 1 + i) for i in range(count)]
    uploads = [broker.reply(A, offer(d, name=f"f{i}.bin"))["id"] for i, d in enumerate(datas)]
    for start, end in ((0, CHUNK_BYTES), (CHUNK_BYTES, 2 * CHUNK_BYTES), (2 * CHUNK_BYTES, None)):
        for upload, data in zip(uploads, datas, strict=True):
            reply = broker.reply(A, chunk(upload, start, data[start:end]))
            assert reply["type"] == ("file_done" if end is None else "file_ack"), reply
    for offset in (0, CHUNK_BYTES, 2 * CHUNK_BYTES):
        for upload, data in zip(uploads, datas, strict=True):
            got = broker.reply(A, {"type": "file_get", "id": upload, "offset": offset})
            assert got["data"] == data[offset : offset + CHUNK_BYTES]


def test_a_deleted_file_is_refused_after_its_ranges_were_read(broker: Broker):
    data = os.urandom(100)
    upload = broker.reply(A, offer(data))["id"]
    seq = broker.reply(A, chunk(upload, 0, data))["seq"]
    get = {"type": "file_get", "id": upload, "offset": 0}
    assert broker.reply(B, get)["data"] == data  # its row is kept for the next range
    assert broker.reply(A, {"type": "delete", "room": "general", "of": seq})["type"] != "error"
    assert broker.reply(B, get)["code"] == "no_such_file"


def test_chunks_of_an_upload_whose_offer_was_rolled_back_are_refused(broker: Broker):
    data = os.urandom(2 * CHUNK_BYTES)
    frame = encode(offer(data))
    broker.core.handle(A, frame, broker.now)
    [(_, accept)] = broker.core.out.replies
    upload = decode(accept, None)["id"]
    broker.core.out.clear()
    # The batch's commit fails (flush.py): the offer's row is gone.
    broker.core.store.rollback()
    broker.core.store_failed(broker.now)
    broker.core.store_recovered()
    refused = broker.reply(A, chunk(upload, 0, data[:CHUNK_BYTES]))
    assert refused["code"] == "no_such_file", refused
    again = broker.reply(A, offer(data))
    assert (again["type"], again["offset"]) == ("file_accept", 0)


def test_another_target_is_another_upload(broker: Broker):
    data = os.urandom(100)
    to_room = broker.reply(A, offer(data))["id"]
    to_bob = broker.reply(A, offer(data, room=None, to="bob"))["id"]
    assert to_room != to_bob


def test_a_private_file_is_pushed_to_its_recipient_only(broker: Broker):
    data = os.urandom(10)
    upload = broker.reply(A, offer(data, room=None, to="Bob"))["id"]
    replies, publishes = broker.handle(A, chunk(upload, 0, data))
    assert publishes == []
    [push] = replies[B]
    assert (push["type"], push["from"], push["to"], push["id"]) == ("file", "alice", "bob", upload)
    [done] = replies[A]
    assert (done["type"], done["to"], done["status"]) == ("file_done", "bob", "delivered")


def test_quota_counts_each_content_once(tmp_path: Path):
    config = BrokerConfig(data_dir=str(tmp_path / "data"), file_quota=1000)
    broker = Broker(str(tmp_path / "b.db"), config)
    try:
        broker.register(A, "alice", rooms=["general", "dev"])
        data = os.urandom(600)
        upload = broker.reply(A, offer(data))["id"]
        broker.reply(A, chunk(upload, 0, data))
        # The same content again costs nothing; new content past the quota is refused.
        assert broker.reply(A, offer(data, room="dev"))["type"] == "file_done"
        assert broker.reply(A, offer(os.urandom(400)))["type"] == "file_accept"
        assert broker.reply(A, offer(os.urandom(1)))["code"] == "quota_exceeded"
    finally:
        broker.close()


def test_an_offer_takes_a_token_of_the_sessions_rate_limit(tmp_path: Path):
    config = BrokerConfig(data_dir=str(tmp_path / "data"), rate_limit=1, rate_burst=1)
    broker = Broker(str(tmp_path / "b.db"), config)
    try:
        broker.register(A, "alice")
        assert broker.reply(A, offer(b"one"))["type"] == "file_accept"
        assert broker.reply(A, offer(b"two"))["code"] == "rate_limited"
    finally:
        broker.close()


def test_chunks_share_an_address_bucket_apart_from_chat(tmp_path: Path):
    config = BrokerConfig(data_dir=str(tmp_path / "data"), file_rate_limit=1, file_rate_burst=2)
    broker = Broker(str(tmp_path / "b.db"), config)
    try:
        broker.register(A, "alice")
        broker.core.state.by_rid[A].address = "10.0.0.1"
        data = os.urandom(30)
        upload = broker.reply(A, offer(data))["id"]
        assert broker.reply(A, chunk(upload, 0, data[:10]))["type"] == "file_ack"
        assert broker.reply(A, chunk(upload, 10, data[10:20]))["type"] == "file_ack"
        limited = broker.reply(A, chunk(upload, 20, data[20:]))
        assert limited["code"] == "rate_limited"
        assert 0 < limited["retry_after"] <= 1
        # Chat is not held up by the transfer's budget.
        assert broker.reply(A, {"type": "chat", "room": "general", "text": "hi"})["type"] == "ack"
        assert broker.reply(A, chunk(upload, 20, data[20:]), now=broker.now + 1)["type"] == (
            "file_done"
        )
    finally:
        broker.close()


# ------------------------------------------------------------------------ client


def settle_all(machine: Any, answer: Any, now: float = 0.0) -> list[Any]:
    """Make every call the machine wants now and answer each with ``answer(call)``;
    returns the requests made."""
    made = machine.calls(now)
    for call in made:
        machine.settle(call, answer(call.request), now)
    return [call.request for call in made]


def test_upload_keeps_at_most_the_window_in_flight_and_resyncs_after_a_refusal(tmp_path: Path):
    path = tmp_path / "up.bin"
    data = os.urandom(20 * 1000)
    path.write_bytes(data)
    seen: list[int] = []
    up = Upload(path, "general", None, None, lambda done, size: seen.append(done), None)
    up.prepare()
    try:
        [first] = up.calls(0.0)
        assert isinstance(first.request, FileOffer)
        assert up.calls(0.0) == []  # nothing else until the offer is answered
        up.settle(first, FileAccept(id=7, offset=0, window=4, chunk=1000), 0.0)
        window = up.calls(0.0)
        assert [c.request.offset for c in window] == [0, 1000, 2000, 3000]
        assert up.calls(0.0) == []  # the window is full
        up.settle(window[0], FileAck(id=7, offset=1000), 0.0)
        [more] = up.calls(0.0)
        assert more.request.offset == 4000
        # The broker lost the rest (say it restarted): a refusal, then a new offer
        # once what is in flight has settled, then chunks from where it stands.
        up.settle(window[1], BrokerError("no_such_file", "no upload 7"), 0.0)
        for call in (*window[2:], more):
            assert up.calls(0.0) == []
            up.settle(call, FileAck(id=7, offset=9999), 0.0)  # late: ignored
        [again] = up.calls(0.0)
        assert isinstance(again.request, FileOffer)
        up.settle(again, FileAccept(id=8, offset=1000, window=8, chunk=1000), 0.0)
        assert [c.request.offset for c in up.calls(0.0)][:2] == [1000, 2000]
        assert seen == [0, 1000, 1000]
    finally:
        up.close()


def test_upload_fails_at_once_on_a_final_refusal_and_after_too_many_retries(tmp_path: Path):
    path = tmp_path / "up.bin"
    path.write_bytes(b"x" * 10)
    up = Upload(path, None, "bob", "x.bin", None, None)
    up.prepare()
    settle_all(up, lambda r: BrokerError("too_large", "no"))
    assert up.finished
    with pytest.raises(BrokerError, match="too_large"):
        up.result()
    up.close()

    up = Upload(path, "general", None, None, None, None)
    up.prepare()
    for _ in range(MAX_RETRIES + 1):
        settle_all(up, lambda r: Timeout("no reply"))
    assert up.finished
    with pytest.raises(Timeout):
        up.result()
    up.close()


def test_upload_waits_out_rate_limited_without_counting_it(tmp_path: Path):
    path = tmp_path / "up.bin"
    path.write_bytes(b"x" * 10)
    up = Upload(path, "general", None, None, None, None)
    up.prepare()
    for _ in range(MAX_RETRIES + 3):
        settle_all(up, lambda r: BrokerError("rate_limited", "slow", retry_after=2.0), now=0.0)
        assert up.calls(1.0) == []
        assert up.delay(1.0) == 1.0
        [call] = up.calls(2.0)
        up.settle(call, BrokerError("rate_limited", "slow", retry_after=2.0), 2.0)
        up._not_before = 0.0
    assert not up.finished
    done = FileDone(id=1, sha256=sha(b"x" * 10), size=10, room="general", seq=3)
    settle_all(up, lambda r: done)
    assert up.result() == done
    up.close()


def test_download_writes_in_order_checks_the_hash_and_resumes(tmp_path: Path):
    data = os.urandom(2 * CHUNK_BYTES + 5)
    meta = {"name": "d.bin", "size": len(data), "sha256": sha(data)}

    def answer(request: FileGet) -> FileData:
        piece = data[request.offset : request.offset + request.size]
        return FileData(id=5, offset=request.offset, data=piece,
                        eof=request.offset + len(piece) >= len(data), **meta)  # fmt: skip

    down = Download(5, tmp_path, None, None)
    down.prepare()
    [first] = settle_all(down, answer)  # one ask, to learn the size
    assert first.offset == 0
    asked = down.calls(0.0)
    assert [c.request.offset for c in asked] == [CHUNK_BYTES, 2 * CHUNK_BYTES]
    down.settle(asked[0], Timeout("lost"), 0.0)  # a reconnect: ask again from the hole
    down.settle(asked[1], answer(asked[1].request), 0.0)
    down.close()  # the process dies here: the part file stays
    part = tmp_path / ".zmqchat-5.part"
    assert part.exists()

    again = Download(5, tmp_path, None, None)
    again.prepare()
    while not again.finished:
        settle_all(again, answer)
    assert again.result().path == tmp_path / "d.bin"
    assert (tmp_path / "d.bin").read_bytes() == data
    assert not part.exists()


def test_download_refuses_bytes_that_are_not_the_file(tmp_path: Path):
    data = b"the real thing"
    down = Download(5, tmp_path / "out.bin", None, None)
    down.prepare()
    settle_all(down, lambda r: FileData(id=5, offset=0, data=b"something else", eof=True,
                                        name="x", size=len(data), sha256=sha(data)))  # fmt: skip
    with pytest.raises(ProtocolError, match="sha256"):
        down.result()
    assert not (tmp_path / "out.bin").exists()
    assert not list(tmp_path.iterdir())


def test_window_constants_fit_a_frame():
    from zmqchat.common.codec import encode
    from zmqchat.common.protocol import MAX_FRAME_BYTES

    biggest = FileData(id=2**63 - 1, offset=2**63 - 1, data=b"x" * CHUNK_BYTES, eof=False,
                       name="é" * 127, size=2**63 - 1, sha256="f" * 64, ref="r" * 64)  # fmt: skip
    assert len(encode(biggest)) < MAX_FRAME_BYTES
    chunk = FileChunk(id=2**63 - 1, offset=2**63 - 1, data=b"x" * CHUNK_BYTES, ref="r" * 64)
    assert len(encode(chunk)) < MAX_FRAME_BYTES
    assert WINDOW * CHUNK_BYTES <= 1024 * 1024


def test_an_older_store_gets_files_delivered_with_what_it_finished_marked(tmp_path: Path):
    path = str(tmp_path / "old.db")
    Store(path).close()
    with sqlite3.connect(path) as db:  # schema 9 to 11: no `delivered`
        db.executescript(
            "DROP INDEX files_waiting; ALTER TABLE files DROP COLUMN delivered;"
            "INSERT INTO files (sha256, name, size, sender, sender_key, recipient,"
            " recipient_key, created, done) VALUES ('ab', 'f', 1, 'a', 'a', 'b', 'b', 1.0, 2.0);"
            "INSERT INTO files (sha256, name, size, sender, sender_key, recipient,"
            " recipient_key, created) VALUES ('cd', 'g', 1, 'a', 'a', 'b', 'b', 3.0);"
            "PRAGMA user_version = 9;"
        )
    Store(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 12
        rows = db.execute("SELECT sha256, delivered FROM files ORDER BY id").fetchall()
    # Finished before the upgrade: handed over then, not again at the next login.
    assert rows == [("ab", 2.0), ("cd", None)]


def test_a_chunk_is_acked_without_waiting_for_the_commit_unless_a_reply_is_ahead(broker: Broker):
    # The ack of a chunk reports bytes in the part file, not a row: it leaves as soon
    # as the chunk is handled (Outbox.now), so the sender's window refills while the
    # batch goes on. Behind a reply to the same connection that waits for the
    # commit (here the offer's accept), it waits too, so the two keep their order.
    data = os.urandom(3 * CHUNK_BYTES)
    out = broker.core.out
    broker.core.handle(A, encode(offer(data)), broker.now)
    [(_, accept)] = out.replies
    upload = decode(accept, None)["id"]
    broker.core.handle(A, encode(chunk(upload, 0, data[:CHUNK_BYTES])), broker.now)
    assert out.now == []
    assert len(out.replies) == 2
    broker.flush()
    broker.core.handle(
        A, encode(chunk(upload, CHUNK_BYTES, data[CHUNK_BYTES : 2 * CHUNK_BYTES])), broker.now
    )
    assert out.replies == []
    [(rid, ack)] = out.now
    assert rid == A
    assert decode(ack, None)["offset"] == 2 * CHUNK_BYTES
    broker.flush()
    # The last chunk's file_done names a stored file: that one waits for the commit.
    broker.core.handle(
        A, encode(chunk(upload, 2 * CHUNK_BYTES, data[2 * CHUNK_BYTES :])), broker.now
    )
    assert out.now == []
    assert decode(out.replies[0][1], None)["type"] == "file_done"
    broker.flush()
    get = {"type": "file_get", "id": upload, "offset": 0}
    broker.core.handle(B, encode(get), broker.now)
    assert [rid for rid, _ in out.now] == [B]  # reading a blob needs no commit either
