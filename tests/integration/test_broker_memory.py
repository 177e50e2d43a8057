"""broker/memory.py: with glibc, the buffers of each chunk (several of 60 KiB,
some freed by another thread than the one that made them) are not faulted in
again for every chunk: a transfer costs the broker next to no page faults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zmqchat import Client
from zmqchat.broker.memory import keep_freed_memory
from zmqchat.common.files import CHUNK_BYTES

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc"),
]


def minor_faults(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[7])


@pytest.mark.skipif(not keep_freed_memory(), reason="not glibc")
def test_a_transfer_costs_the_broker_next_to_no_page_faults(broker, tmp_path):
    chunks = 200
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(chunks * CHUNK_BYTES))
    assert broker.pid is not None
    with Client("alice", broker.endpoint) as alice:
        alice.send_file(source, room="general", name="warm-up")  # the heap grows once
        source.write_bytes(os.urandom(chunks * CHUNK_BYTES))
        before = minor_faults(broker.pid)
        done = alice.send_file(source, room="general")
        alice.get_file(done.id, tmp_path / "copy.bin")
        faults = minor_faults(broker.pid) - before
    # Under one a request (200 chunks up, 200 ranges down); with glibc's defaults
    # about seven (2,860 when this test was written).
    assert faults < 2 * chunks, faults
