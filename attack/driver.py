"""The suite's driver: for each row, a fresh broker (open-file limit 1024), the
bystander alone for a while (its idle round trips), then the attack, meanwhile a
newcomer trying to register every half second and the broker's memory watched; then
everything is stopped by its pid and the row's figures are put together."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import queue
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from attack import attacks, fuzz
from attack.bystander import SETTLE, Outcome, Sample, run_bystander
from attack.plan import Plan
from attack.wire import NEWCOMER_HOST, dealer, fresh_name, pack, register
from zmqchat.testing import BrokerProcess, Spawned, spawn


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    attack: attacks.Attack
    until_done: bool = False  # runs until the attack says it is done, not plan.seconds


ROWS = (
    Row("stuck-sub", attacks.stuck_subscriber),
    Row("deaf-dealer", attacks.deaf_dealer),
    Row("register-close", attacks.register_close),
    Row("idle-connections", attacks.idle_connections),
    Row("many-rooms", attacks.many_rooms),
    Row("one-address", attacks.one_address),
    Row("room-churn", attacks.room_churn),
    Row("fuzz", fuzz.fuzz, until_done=True),
)


@dataclasses.dataclass
class Result:
    row: str
    rss_mb: float = 0.0  # the broker's peak resident memory (VmHWM)
    idle: list[float] = dataclasses.field(default_factory=list)  # round trips, seconds
    attacked: list[float] = dataclasses.field(default_factory=list)
    unseen: int = 0  # bystander chats whose event never came (counted at SETTLE)
    refused: int = 0  # bystander chats the broker refused
    lost: int = 0
    tried: int = 0  # newcomers
    served: int = 0
    alive: bool = True  # the broker, at the end of the row
    cpu: float = 0.0  # the broker's CPU use during the attack, % of one core
    # CPU that processes other than this row's used during the attack (and the
    # hypervisor's steal), % of one core: the machine's noise in the round trips.
    others_cpu: float = 0.0
    stored_rooms: int = -1  # rooms with events in the broker's store at the end
    stored_names: int = -1  # user names its store remembers at the end
    note: str = ""
    error: str | None = None


def memory_kib(pid: int, field: str) -> int:
    """``VmHWM`` or ``VmRSS`` of a process, in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used so far, over all cores, with
    the time the hypervisor took from this machine (steal)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    except (OSError, ValueError):
        return 0.0
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuTally:
    """The CPU time our own processes (broker, bystander, attacker, this driver)
    used, each as last read while it was alive: an attacker that ends by itself (the
    fuzz row's) reads 0 once it is gone, and its CPU then counted as another
    process's, which made the fuzz row's machine look busy every time."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._last: dict[int, float] = {}

    def last(self, pid: int) -> float:
        """``pid``'s CPU time as last sampled."""
        return self._last.get(pid, 0.0)

    def sample(self) -> float:
        """Read every process again; the total as last seen."""
        for pid in self.pids:
            seconds = cpu_seconds(pid)
            if seconds > self._last.get(pid, 0.0):
                self._last[pid] = seconds
        return sum(self._last.values())


def stored(db: str, query: str) -> int:
    """A count from the (stopped) broker's store, read-only; -1 when unreadable."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.Error:
        return -1


def newcomer(context: zmq.Context[Any], port: int, timeout: float = 2.0) -> bool:
    """Could a new user register, from an address of its own, within ``timeout``?"""
    sock = dealer(context, NEWCOMER_HOST, port)
    try:
        reply = register(sock, fresh_name("new"), ["general"], timeout=timeout)
        if reply is not None and reply.get("type") == "welcome":
            sock.send(pack({"type": "bye"}))
            return True
        return False
    finally:
        sock.close(linger=0)


def _get(reports: Any, kind: str, timeout: float, alive: Callable[[], bool]) -> Any:
    """The payload of the next report of ``kind``; None after ``timeout`` or once the
    process that would send it is gone and its queue is empty."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            report = reports.get(timeout=min(left, 0.5))
        except queue.Empty:
            if not alive():
                return None
            continue
        if report[0] == kind:
            return report[1]
    return None


def _rtts(samples: list[Sample], start: float, end: float) -> list[float]:
    return [s.rtt if s.rtt is not None else SETTLE for s in samples if start <= s.sent < end]


def _probe(row: Row, plan: Plan, broker: BrokerProcess, attacker: Spawned, armed_at: float,
           result: Result, ours: CpuTally) -> None:  # fmt: skip
    """Try a newcomer every ``plan.probe_every`` seconds until the attack is over."""
    zctx: zmq.Context[Any] = zmq.Context()
    limit = plan.setup_timeout + 20 * plan.seconds if row.until_done else plan.seconds
    try:
        while time.time() < armed_at + limit and broker.running:
            started = time.monotonic()
            result.tried += 1
            result.served += newcomer(zctx, broker.port)
            ours.sample()  # before alive(), which reaps an attacker that has ended
            if row.until_done and not attacker.alive():
                break
            time.sleep(max(0.0, plan.probe_every - (time.monotonic() - started)))
    finally:
        zctx.destroy(linger=0)


def _attack_window(row: Row, plan: Plan, broker: BrokerProcess, attacker: Spawned,
                   armed_at: float, ours: CpuTally, result: Result) -> float:  # fmt: skip
    """Probe newcomers until the attack is over, and measure the CPU used meanwhile by
    the broker and by everything else on the machine; returns when it ended."""
    others_at = machine_cpu_seconds() - ours.sample()
    cpu_at = ours.last(broker.pid or 0)
    _probe(row, plan, broker, attacker, armed_at, result, ours)
    end = time.time()
    window = max(end - armed_at, 1e-3)
    result.others_cpu = 100 * (machine_cpu_seconds() - ours.sample() - others_at) / window
    result.cpu = 100 * (ours.last(broker.pid or 0) - cpu_at) / window
    return end


def _bystander_figures(result: Result, outcome: Outcome | None, windows: list[float]) -> None:
    """``windows``: ready, end of idle, armed, end of the attack (wall-clock)."""
    if outcome is None or outcome.error:
        result.error = f"bystander: {outcome.error if outcome else 'no answer'}"
        return
    ready, idle_end, armed_at, end = windows
    result.idle = _rtts(outcome.samples, ready, idle_end)
    result.attacked = _rtts(outcome.samples, armed_at, end)
    result.unseen = sum(s.rtt is None for s in outcome.samples if s.sent >= armed_at)
    result.refused = sum(s.refused is not None for s in outcome.samples)
    result.lost = outcome.lost if outcome.history_read else max(outcome.lost, 1)
    if not outcome.history_read:
        result.error = "bystander: its room's history could not be read"


def run_row(row: Row, plan: Plan, work: Path, say: Callable[[str], object]) -> Result:
    """One row: a fresh broker, the bystander idle then attacked; every process started
    here is stopped by its pid before this returns."""
    result = Result(row.name)
    nofile = f"--nofile={plan.nofile}:{plan.nofile}"  # soft and hard: the broker raises soft
    broker = BrokerProcess(work / row.name, log_level="warning", wrapper=("prlimit", nofile))
    context = multiprocessing.get_context("spawn")
    b_reports, b_stop = context.Queue(), context.Event()
    a_reports, a_stop = context.Queue(), context.Event()
    processes: list[Spawned] = []
    try:
        broker.start()
        bystander = spawn(run_bystander, broker.port, plan.period, b_reports, b_stop)
        processes.append(bystander)
        ready = _get(b_reports, "ready", 30, bystander.alive)
        if ready is None:
            done = _get(b_reports, "done", 1, lambda: False)
            raise RuntimeError(f"the bystander did not start: {getattr(done, 'error', '')}")
        time.sleep(plan.idle)  # a measuring window, not a wait for a condition
        idle_end = time.time()
        attacker = spawn(
            attacks.niced, row.attack, broker.port, broker.pub_port, plan, a_reports, a_stop
        )
        processes.append(attacker)
        armed_at = _get(a_reports, "armed", plan.setup_timeout, attacker.alive) or time.time()
        say(f"{row.name}: attacking ({time.time() - idle_end:.1f} s of set-up)")
        ours = CpuTally([broker.pid or 0, bystander.pid, attacker.pid, os.getpid()])
        end = _attack_window(row, plan, broker, attacker, armed_at, ours, result)
        a_stop.set()
        result.note = _get(a_reports, "note", 30, attacker.alive) or ""
        if not result.note:
            result.error = f"the attacker failed (exit status {attacker.returncode})"
        b_stop.set()
        outcome: Outcome | None = _get(b_reports, "done", 30 + SETTLE, bystander.alive)
        result.rss_mb = memory_kib(broker.pid or 0, "VmHWM") / 1024
        result.alive = broker.running
        _bystander_figures(result, outcome, [ready, idle_end, armed_at, end])
    except RuntimeError as exc:
        result.error = str(exc)
        result.alive = broker.running
    finally:
        a_stop.set()
        b_stop.set()
        for process in processes:
            try:
                process.wait(10)
            except TimeoutError:
                process.kill()  # by its pid
        if broker.running:
            broker.stop()
    result.stored_rooms = stored(broker.db, "SELECT COUNT(DISTINCT room) FROM events")
    result.stored_names = stored(broker.db, "SELECT COUNT(*) FROM users")
    return result
