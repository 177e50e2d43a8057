"""Chat stays responsive while files move (issue 16): two `zmqchat file send`
processes upload at once while a client chats in another room; every chat is acked
and reaches a listener meanwhile. The broker paces chunks (``file_rate_limit``) so
that the two uploads overlap however fast the machine is. The only timing asserted
is a generous bound: the figures (round trip p50/p99 during a transfer, unpaced)
are the benchmark's (benchmarks/bench_files.py)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from tests.cli_helpers import spawn_cli

from zmqchat import Client
from zmqchat.common.messages import ChatEvent
from zmqchat.errors import Timeout
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(120)

MiB = 1 << 20
SIZE = 20 * MiB  # 342 chunks each: over a second at 300 chunks a second for both
BOUND = 5.0  # seconds: a chat's round trip, however busy the machine


def test_every_chat_is_acked_and_delivered_during_two_concurrent_uploads(make_broker, tmp_path):
    broker = make_broker(file_rate_limit=300, file_rate_burst=20)
    paths = []
    for n in range(2):
        path = tmp_path / f"big{n}.bin"
        path.write_bytes(os.urandom(SIZE))
        paths.append(path)
    parts = Path(broker.db).parent / "files" / "parts"

    with (
        Client("chatter", broker.endpoint, rooms=("lobby",)) as chatter,
        Client("listener", broker.endpoint, rooms=("lobby",)) as listener,
    ):
        port = str(broker.port)
        senders = [
            spawn_cli(tmp_path, "file", "send", "--port", port, "--user", f"sender{n}",
                      "--json", "--room", "general", str(path))
            for n, path in enumerate(paths)
        ]  # fmt: skip
        try:

            def both_under_way() -> bool:
                for s in senders:
                    assert s.poll() is None, s.communicate()
                return len([p for p in parts.glob("*") if p.stat().st_size]) == 2

            wait_until(both_under_way, 60, "both uploads to be under way")
            sent: dict[int, float] = {}  # seq -> round trip (ack, then the listener's event)
            during = 0
            while any(s.poll() is None for s in senders) and len(sent) < 500:
                start = time.monotonic()
                ack = chatter.send("lobby", f"c{len(sent)}")
                wait_until(
                    lambda ack=ack: _heard(listener, ack.seq), BOUND, f"chat {ack.seq} heard"
                )
                sent[ack.seq] = time.monotonic() - start
                during += any(s.poll() is None for s in senders)
            outs = [s.communicate(timeout=60) for s in senders]
        finally:
            for s in senders:
                s.kill()
                s.wait()

    assert during >= 3, f"only {during} chats while the uploads ran: nothing was shown"
    assert max(sent.values()) < BOUND
    for sender, (out, err), path in zip(senders, outs, paths, strict=True):
        assert sender.returncode == 0, err
        assert json.loads(out)["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def _heard(listener: Client, seq: int) -> bool:
    """True once the listener's next chat event is chat ``seq`` of lobby (other
    events, such as presence, are skipped; a chat out of its turn fails)."""
    try:
        event = listener.next_event(timeout=0.5)
    except Timeout:
        return False
    if not isinstance(event, ChatEvent):
        return False
    assert (event.room, event.seq) == ("lobby", seq)
    return True
