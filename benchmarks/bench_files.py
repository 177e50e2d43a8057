"""File transfer (issue 16): 100 MiB (10 MiB with ``--quick``) uploaded with the
library's ``send_file`` and downloaded again with ``get_file`` through a real
broker, against bare pyzmq moving the same file with the same chunks and credit
window (load_files.py says what the baseline leaves out).

The broker runs as shipped: its default settings, rate limits included, and its
default log level. Its shipped limits count every chunk: ``file_rate_limit``
(2,000 chunks a second, bursts of 4,000) and the per-address limit (5 x
``rate_limit``: 1,000 frames a second, bursts of 5,000). A second zmqchat run each
round turns them off (``rate_limit = 0``, ``file_rate_limit = 0``), so that a cap
they set shows as the difference between the two rows.

Meanwhile the broker's RSS is sampled every 20 ms, and a bystander (attack's: a
session from 127.0.0.2 chatting in a room of its own every 20 ms, timing each chat
until its event comes back) measures the chat round trip during the transfers,
against its own round trips in the seconds before them.
"""

from __future__ import annotations

import dataclasses
import queue
import tempfile
import time
from pathlib import Path
from typing import Any

from attack.bystander import run_bystander

from benchmarks.harness import CTX, Children, Metric, at_least, at_most, get, percentile, rss_kib
from benchmarks.load_files import library_transfer, make_source, raw_server, raw_transfer
from zmqchat.testing import BrokerProcess

MB = 1e6
PERIOD = 0.02  # the bystander's chat period
LIMITS_OFF = {"rate_limit": 0, "file_rate_limit": 0}


@dataclasses.dataclass
class Run:
    """One transfer each way: seconds, and what was sampled meanwhile."""

    seconds: dict[str, float]
    rss_start: float  # MiB, just before the upload
    rss_peak: float  # MiB, the most sampled during both transfers
    rtt_idle: list[float] = dataclasses.field(default_factory=list)  # seconds, sorted
    rtt_busy: list[float] = dataclasses.field(default_factory=list)
    unseen: int = 0  # bystander chats sent during the transfers whose event never came


def _follow(out: Any, pid: int, timeout: float) -> tuple[dict[str, tuple[float, float]], float]:
    """The transfer's phases, sampling ``pid``'s RSS every 20 ms until it is done;
    returns the phases and the peak RSS (MiB)."""
    phases: dict[str, tuple[float, float]] = {}
    peak = 0.0
    deadline = time.monotonic() + timeout
    while True:
        peak = max(peak, rss_kib(pid) / 1024)
        if time.monotonic() > deadline:
            raise RuntimeError(f"benchmark: the transfer took over {timeout:g}s")
        try:
            item = out.get(timeout=0.02)
        except queue.Empty:
            continue
        if item[0] == "phase":
            phases[item[1]] = (item[2], item[3])
        elif item[0] == "done":
            return phases, peak


def _transfer(target: Any, endpoint: str, source: Path, pid: int, idle: float) -> Run:
    """Start ``target`` (library_transfer or raw_transfer), let ``idle`` seconds go
    by once it is connected, then time it."""
    out: Any = CTX.Queue()
    go = CTX.Event()
    with Children() as children:
        children.start(target, endpoint, str(source), out, go)
        get(out, 60, "the transfer's client connected")
        time.sleep(idle)  # the bystander's idle round trips (a benchmark, not a test)
        start = rss_kib(pid) / 1024
        go.set()
        phases, peak = _follow(out, pid, 600)
    run = Run({k: b - a for k, (a, b) in phases.items()}, start, max(start, peak))
    run.seconds["_from"], run.seconds["_to"] = phases["upload"][0], phases["download"][1]
    return run


def zmqchat_run(source: Path, settings: dict[str, Any], idle: float) -> Run:
    with tempfile.TemporaryDirectory(prefix="zmqchat-bench-") as tmp:
        # log_level None: the broker's own default, as shipped.
        broker = BrokerProcess(tmp, settings=settings, log_level=None).start()
        try:
            assert broker.pid is not None
            reports: Any = CTX.Queue()
            stop = CTX.Event()
            with Children() as children:
                children.start(run_bystander, broker.port, PERIOD, reports, stop)
                get(reports, 30, "the bystander ready")
                run = _transfer(library_transfer, broker.endpoint, source, broker.pid, idle)
                stop.set()
                _, outcome = get(reports, 60, "the bystander's round trips")
        finally:
            broker.stop()
    if outcome.error:
        raise RuntimeError(f"benchmark: bystander: {outcome.error}")
    t0, t1 = run.seconds.pop("_from"), run.seconds.pop("_to")
    busy = [s for s in outcome.samples if t0 <= s.sent <= t1]
    run.rtt_busy = sorted(s.rtt for s in busy if s.rtt is not None)
    run.rtt_idle = sorted(s.rtt for s in outcome.samples if s.sent < t0 and s.rtt is not None)
    run.unseen = sum(1 for s in busy if s.rtt is None)
    return run


def raw_run(source: Path) -> Run:
    with tempfile.TemporaryDirectory(prefix="zmqchat-bench-raw-") as tmp, Children() as children:
        ports: Any = CTX.Queue()
        server = children.start(raw_server, ports, tmp)
        port, _ = get(ports, 20, "a port from the raw file server")
        assert server.pid is not None
        run = _transfer(raw_transfer, f"tcp://127.0.0.1:{port}", source, server.pid, 0.0)
    del run.seconds["_from"], run.seconds["_to"]
    return run


def run(quick: bool) -> list[Metric]:
    size = (10 if quick else 100) << 20
    rounds = 1 if quick else 3
    idle = 1.0 if quick else 2.0
    label = f"{size >> 20} MiB"
    raw = "bare pyzmq, same chunks and window"
    up = Metric(f"file upload {label}, shipped limits", "MB/s", baseline=raw,
                goal=">= 0.6x", goal_check=at_least(0.6))  # fmt: skip
    down = Metric(f"file download {label}, shipped limits", "MB/s", baseline=raw,
                  goal=">= 0.6x", goal_check=at_least(0.6))  # fmt: skip
    up_off = Metric(f"file upload {label}, rate limits off", "MB/s", baseline=raw)
    down_off = Metric(f"file download {label}, rate limits off", "MB/s", baseline=raw)
    rss = Metric("broker RSS peak during the transfers", "MiB", baseline="its RSS before them",
                 better="lower", goal="<= 1.25x", goal_check=at_most(1.25))  # fmt: skip
    before = "the same, before the transfers"
    p50 = Metric("bystander chat round trip p50 during the transfers", "ms", baseline=before,
                 better="lower")  # fmt: skip
    p99 = Metric("bystander chat round trip p99 during the transfers", "ms", baseline=before,
                 better="lower")  # fmt: skip
    rss.extra["raw_server_rss_peak_mib"] = []
    unseen: list[float] = []
    with tempfile.TemporaryDirectory(prefix="zmqchat-bench-src-") as tmp:
        source = make_source(Path(tmp) / "source.bin", size)
        for i in range(rounds):
            order = ["zmqchat", "raw", "off"]
            for system in order if i % 2 == 0 else order[::-1]:
                if system == "raw":
                    r = raw_run(source)
                    for metric in (up, up_off):
                        metric.base.append(size / r.seconds["upload"] / MB)
                    for metric in (down, down_off):
                        metric.base.append(size / r.seconds["download"] / MB)
                    rss.extra["raw_server_rss_peak_mib"].append(r.rss_peak)
                    continue
                z = zmqchat_run(source, {} if system == "zmqchat" else LIMITS_OFF, idle)
                a, b = (up, down) if system == "zmqchat" else (up_off, down_off)
                a.ours.append(size / z.seconds["upload"] / MB)
                b.ours.append(size / z.seconds["download"] / MB)
                if system == "zmqchat":
                    rss.ours.append(z.rss_peak)
                    rss.base.append(z.rss_start)
                    p50.ours.append(percentile(z.rtt_busy, 0.5) * 1000)
                    p99.ours.append(percentile(z.rtt_busy, 0.99) * 1000)
                    p50.base.append(percentile(z.rtt_idle, 0.5) * 1000)
                    p99.base.append(percentile(z.rtt_idle, 0.99) * 1000)
                    unseen.append(z.unseen)
    p99.extra["bystander_chats_unseen"] = unseen
    return [up, down, up_off, down_off, rss, p50, p99]
