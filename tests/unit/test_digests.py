"""The sha256 that file transfers hash on a thread of their own (common/digests.py)."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from zmqchat.common.digests import MAX_BEHIND, BackgroundSha256
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(30)


def _hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "zmqchat-sha256"]


def test_blocks_of_many_digests_interleaved_hash_as_each_alone() -> None:
    blocks = [os.urandom(n) for n in (0, 1, 2047, 2049, 60 * 1024, 300_000)] * 3
    one, two = BackgroundSha256(), BackgroundSha256()
    for i, block in enumerate(blocks):
        one.update(block)
        if i % 2:
            two.update(block)
    assert one.hexdigest() == hashlib.sha256(b"".join(blocks)).hexdigest()
    assert two.hexdigest() == hashlib.sha256(b"".join(blocks[1::2])).hexdigest()
    assert len(_hashing_threads()) == 1  # one thread for the process, not one a digest


def test_it_goes_on_from_a_digest_given() -> None:
    start = hashlib.sha256(b"held before a restart")
    digest = BackgroundSha256(start)
    digest.update(b" and the rest")
    assert digest.hexdigest() == hashlib.sha256(b"held before a restart and the rest").hexdigest()


class _Stuck:
    """A digest whose update holds the hashing thread until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def update(self, block: bytes) -> None:
        self.release.wait(20)


def test_a_feeder_waits_instead_of_piling_up_blocks() -> None:
    """While the hashing thread is held, a feeder hands over MAX_BEHIND blocks (the
    held one's among them) and then waits; once the thread goes on, every block is
    hashed in order."""
    stuck = _Stuck()
    BackgroundSha256(stuck).update(b"held")
    block = os.urandom(1024)
    digest = BackgroundSha256()
    fed = 0

    def feed() -> None:
        nonlocal fed
        for _ in range(MAX_BEHIND + 5):
            digest.update(block)
            fed += 1

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        wait_until(lambda: fed == MAX_BEHIND - 1, timeout=10)
        feeder.join(0.2)
        assert feeder.is_alive()  # still waiting for room: no block was piled up
        assert fed == MAX_BEHIND - 1
    finally:
        stuck.release.set()
    feeder.join(10)
    assert fed == MAX_BEHIND + 5
    assert digest.hexdigest() == hashlib.sha256(block * (MAX_BEHIND + 5)).hexdigest()


def test_a_forked_child_hashes_on_a_thread_of_its_own() -> None:
    BackgroundSha256().update(b"starts the parent's thread")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's hashing thread did not come with it
        try:
            digest = BackgroundSha256()
            digest.update(b"child")
            os.write(write, digest.hexdigest().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        got = f.read().decode()
    os.waitpid(pid, 0)
    assert got == hashlib.sha256(b"child").hexdigest()
