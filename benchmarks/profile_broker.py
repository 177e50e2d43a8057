"""Where a chat's microseconds go in the broker:
``python -m benchmarks.profile_broker [SUBSCRIBERS]`` (default 1).

Runs the ingest benchmark (one publisher, one subscriber) while py-spy samples the
real broker process, then folds the samples into the stages a chat goes through.
Needs py-spy (the ``bench`` extra); prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import bench_rooms, harness

DURATION = 4.0
RATE = 200  # samples/s: py-spy costs CPU too, and the machine may have only two cores
# Stage of a sampled stack: the first rule whose marker appears in it, innermost
# frame first. Markers are "function (file" fragments of py-spy's raw output.
STAGES = (
    # py-spy leaves out a thread sleeping in poll; what it catches there is work:
    # libzmq processing its pipes' commands (many with many subscribers).
    ("poll (libzmq's pipe bookkeeping)", ("Poller.poll",)),
    ("SQLite commit", ("Store.commit",)),
    ("SQLite insert", ("Store._write", "Store.add_chat")),
    ("send acks and events", ("Socket.send", "_send_replies", "BrokerServer._flush")),
    ("encode replies and events", ("encode (zmqchat/common/codec", "to_wire", "packb")),
    ("decode (msgpack)", ("decode (zmqchat/common/codec",)),
    ("validate (parse_request)", ("parse_request", "_parse_", "check_")),
    ("handler logic", ("Relay.chat", "remember", "recall", "fingerprint")),
    ("receive (recv)", ("drain",)),
    ("dispatch, expiry, loop", ("BrokerCore.handle", "BrokerServer._loop", "expire")),
)


def stage_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for stage, markers in STAGES:
            if any(marker in frame for marker in markers):
                return stage
    return "other"


@contextlib.contextmanager
def _sampled(raw: Path) -> Iterator[None]:
    """Patch the benchmark's broker so py-spy records it while the run lasts."""
    original = harness.zmqchat_broker
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    @contextlib.contextmanager
    def broker(**kw: Any) -> Iterator[Any]:
        with original(**kw) as b:
            cmd = [
                spy, "record", "--nonblocking", "-p", str(b.pid), "-r", str(RATE),
                "-d", str(int(DURATION)), "-f", "raw", "-o", str(raw),
            ]  # fmt: skip
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)  # py-spy attaches
            try:
                yield b
            finally:
                proc.wait(DURATION + 30)

    bench_rooms.zmqchat_broker = broker
    try:
        yield
    finally:
        bench_rooms.zmqchat_broker = original


def main(argv: list[str]) -> int:
    subscribers = int(argv[0]) if argv else 1
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "broker.txt"
        with _sampled(raw):
            result = bench_rooms.room_run(
                "zmqchat", bench_rooms.Shape(subscribers=subscribers), DURATION
            )
        samples: collections.Counter[str] = collections.Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples[stage_of(stack)] += int(count)
    rate = result["sent_per_s"]
    chats = rate * DURATION
    busy = sum(samples.values())
    print(
        f"ingest: {rate:,.0f} acks/s, one publisher (window {harness.WINDOW}), "
        f"{subscribers} subscriber(s)"
    )
    print("\n| stage | share of busy time | us per chat |\n|---|---|---|")
    for stage, n in samples.most_common():
        # n samples stand for n / RATE seconds, spread over the chats of the run.
        print(f"| {stage} | {n / busy:.0%} | {n * 1e6 / RATE / chats:.1f} |")
    print(f"| **busy, in all** | 100% | {busy * 1e6 / RATE / chats:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
