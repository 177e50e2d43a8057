"""Blob lifetime without sockets (broker/leftovers.py): the broker core on a real
store and files folder. A blob goes only once no file row refers to its content and
the deletion of the last one is committed; a blob a killed broker left behind goes
after the next start."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.test_handlers import Broker
from tests.unit.test_transfers import chunk, offer

from zmqchat.common.codec import encode
from zmqchat.common.config import BrokerConfig

A = b"rid-a"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(str(tmp_path / "broker.db"), BrokerConfig(data_dir=str(tmp_path / "data")))
    b.register(A, "alice")
    yield b
    b.close()


def blobs(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "data" / "files" / "blobs").glob("*/*")}


def send(broker: Broker, data: bytes) -> dict[str, object]:
    upload = broker.reply(A, offer(data))
    if upload["type"] == "file_done":
        return upload
    done = broker.reply(A, chunk(upload["id"], 0, data))
    assert done["type"] == "file_done", done
    return done


def turn(broker: Broker) -> None:
    broker.core.expire(broker.now)
    broker.flush()


def test_the_blob_goes_after_the_commit_that_deletes_its_last_file(broker: Broker, tmp_path):
    data = os.urandom(1000)
    sha = hashlib.sha256(data).hexdigest()
    first, second = send(broker, data), send(broker, data)
    assert blobs(tmp_path) == {sha}

    assert broker.reply(A, {"type": "delete", "room": "general", "of": first["seq"]})["type"] == (
        "ack"
    )
    turn(broker)
    assert blobs(tmp_path) == {sha}  # the second file still has it

    # Deleted and swept in one batch (before its commit): the blob stays until a
    # commit has made the deletion durable, then goes at the next turn.
    delete = {"type": "delete", "room": "general", "of": second["seq"]}
    broker.core.handle(A, encode(delete), broker.now)
    broker.core.expire(broker.now)
    assert blobs(tmp_path) == {sha}
    broker.flush()
    turn(broker)
    assert blobs(tmp_path) == set()


def test_a_blob_a_killed_broker_left_behind_goes_after_the_next_start(broker: Broker, tmp_path):
    kept = send(broker, os.urandom(500))
    stray = hashlib.sha256(b"stray").hexdigest()
    folder = tmp_path / "data" / "files" / "blobs" / stray[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stray).write_bytes(b"stray")  # as if its file's row went, then a kill

    broker.restart()
    turn(broker)
    turn(broker)
    assert blobs(tmp_path) == {kept["sha256"]}
