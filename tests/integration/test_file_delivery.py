"""What becomes of a finished file (issue 16): one sent to an offline account holder
reaches them at their next login, as a queued pm does, across a broker killed
meanwhile; a file whose event its sender deletes is gone, and its blob with it once
no other file has that content."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import RawPeer
from tests.integration.test_mailbox import PASSWORD, add_account, drain

from zmqchat import Client
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def raw(broker: BrokerProcess, peers: list[RawPeer], user: str, **fields: Any) -> RawPeer:
    peer = RawPeer(broker.endpoint)
    peers.append(peer)
    peer.register(user, **fields)
    return peer


def blob(broker: BrokerProcess, sha256: str) -> Path:
    return Path(broker.db).parent / "files" / "blobs" / sha256[:2] / sha256


# ------------------------------------------------------------- offline delivery


def test_a_file_for_an_offline_account_holder_reaches_them_at_their_next_login(
    make_broker, peers, tmp_path
):  # fmt: skip
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    data = os.urandom(70_000)  # two chunks
    path = tmp_path / "notes.bin"
    path.write_bytes(data)
    with Client("alice", broker.endpoint) as alice:
        queued = alice.pm("dora", "a file is coming")
        done = alice.send_file(path, to="Dora")
    assert (done.to, done.status) == ("dora", "stored")
    assert queued.status == "queued"

    broker.kill()  # what waits is in the store
    broker.start()
    dora = RawPeer(broker.endpoint)
    peers.append(dora)
    dora.send({"type": "register", "user": "dora", "proto": 1, "password": PASSWORD})
    assert dora.recv()["type"] == "welcome"
    got = drain(dora)
    # After the welcome: the waiting pms, then the waiting files, oldest first.
    assert [f["type"] for f in got] == ["pm", "file"], got
    event = got[1]
    assert {k: event[k] for k in ("id", "from", "to", "name", "size", "sha256")} == {
        "id": done.id, "from": "alice", "to": "dora", "name": "notes.bin",
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
    }  # fmt: skip
    first = dora.request({"type": "file_get", "id": done.id, "offset": 0})
    rest = dora.request({"type": "file_get", "id": done.id, "offset": len(first["data"])})
    assert first["data"] + rest["data"] == data
    assert rest["eof"] is True

    # Handed over once: the next login has nothing waiting.
    dora.request({"type": "bye"})
    again = raw(broker, peers, "dora", password=PASSWORD)
    assert again is not None
    assert drain(again) == []


def test_a_file_for_an_online_user_is_not_handed_over_again(make_broker, peers, tmp_path):
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    dora = raw(broker, peers, "dora", password=PASSWORD)
    path = tmp_path / "now.txt"
    path.write_bytes(b"now")
    with Client("alice", broker.endpoint) as alice:
        assert alice.send_file(path, to="dora").status == "delivered"
    assert [f["type"] for f in drain(dora)] == ["file"]
    dora.request({"type": "bye"})
    assert drain(raw(broker, peers, "dora", password=PASSWORD)) == []


# ----------------------------------------------------------------- blob lifetime


def test_deleting_a_file_event_removes_the_file_and_its_blob_once_unshared(
    broker, peers, tmp_path
):  # fmt: skip
    path = tmp_path / "slides.pdf"
    path.write_bytes(os.urandom(100_000))
    with Client("alice", broker.endpoint, rooms=("general", "dev")) as alice:
        first = alice.send_file(path, room="general")
        second = alice.send_file(path, room="dev")  # the same content: one blob
        bob = raw(broker, peers, "bob", rooms=["general", "dev"])
        assert blob(broker, first.sha256).is_file()

        refused = bob.request({"type": "delete", "room": "general", "of": first.seq})
        assert refused["code"] == "not_yours", refused
        deleted = alice.delete("general", first.seq)
        gone = bob.request({"type": "file_get", "id": first.id, "offset": 0})
        assert gone["code"] == "no_such_file", gone
        # The other file of that content still has it.
        kept = bob.request({"type": "file_get", "id": second.id, "offset": 0})
        assert kept["type"] == "file_data", kept
        assert bob.request({"type": "ping"})["type"] == "pong"  # a turn after the commit
        assert blob(broker, first.sha256).is_file()

        # History keeps the event as sent, then the delete event naming it.
        page = alice.history("general")
        kinds = [(type(e).__name__, e.seq, getattr(e, "of", None)) for e in page.messages]
        kinds = [k for k in kinds if k[0] in ("FileEvent", "DeleteEvent")]
        assert kinds == [("FileEvent", first.seq, None), ("DeleteEvent", deleted.seq, first.seq)]

        withdrawn = alice.delete("dev", second.seq)

        def removed() -> bool:
            bob.request({"type": "ping"})  # the blob goes at a turn after the commit
            return not blob(broker, first.sha256).exists()

        wait_until(removed, 10, "the blob nobody refers to any more to be removed")
        assert bob.request({"type": "file_get", "id": second.id, "offset": 0})["code"] == (
            "no_such_file"
        )
        again = alice.delete("dev", second.seq)  # a retried delete: the same ack
        assert again.seq == withdrawn.seq
        # The same content sent again is a new blob, uploaded afresh.
        third = alice.send_file(path, room="general")
        assert blob(broker, third.sha256).is_file()
