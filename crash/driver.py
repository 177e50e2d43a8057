"""The crash test's driver: start a broker and the load, ``kill -9`` the broker at
random moments and restart it on the same ports and store, watch every load user come
back, stop the load cleanly, read the store back, and count (:mod:`crash.checks`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import random
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from crash.checks import Counts, Restart, check
from crash.load import HISTORY_PAGE, LoadPlan, run_load
from crash.records import read_records
from zmqchat import ChatEvent, Client
from zmqchat.testing import BrokerProcess, Spawned, spawn

ROOMS = ("general", "dev", "random")


@dataclasses.dataclass(frozen=True)
class Options:
    kills: int = 20
    workers: int = 4
    rate: float = 400.0  # requests per second per load process
    window: int = 16  # chats and pms in flight per load process
    gap: tuple[float, float] = (0.3, 3.0)  # seconds of load between restarts, at random
    fresh_every: float = 0.5  # seconds between fresh registers, per load process
    resume_timeout: float = 30.0  # for every load user to be back after a restart
    max_ops: int = 1_000_000  # per load process
    seed: int | None = None
    directory: str | None = None  # records and the broker's store and log


@dataclasses.dataclass
class Outcome:
    counts: Counts
    seconds: float
    options: Options
    seed: int
    directory: Path


class _Watcher:
    """What the load processes report, by name: phases reached, status changes."""

    def __init__(self, reports: Any, names: Iterable[str]) -> None:
        self.reports = reports
        self.names = tuple(names)
        self.phases: dict[str, set[str]] = {name: set() for name in self.names}
        self.statuses: dict[str, list[tuple[float, str, bool]]] = {n: [] for n in self.names}
        self.dropped = 0

    def _pump(self, timeout: float) -> None:
        try:
            report = self.reports.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return
        kind, name, when = report[0], report[1], report[2]
        if kind == "status":
            self.statuses[name].append((when, report[3], report[4]))
        else:
            self.phases[name].add(kind)
            if kind == "done":
                self.dropped += report[3]

    @property
    def failed(self) -> set[str]:
        return {name for name, phases in self.phases.items() if "failed" in phases}

    def wait_for(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._pump(min(left, 0.5))
        return True

    def wait_all(self, phase: str, timeout: float) -> set[str]:
        """Wait until every live process reached ``phase``; returns those that did not."""

        def missing() -> set[str]:
            return {n for n, p in self.phases.items() if phase not in p and "failed" not in p}

        self.wait_for(lambda: not missing(), timeout)
        return missing()

    def back_after(self, killed_at: float, served_at: float, timeout: float) -> Restart:
        """Wait until every load user lost its link after ``killed_at`` and connected
        again; how it came back (same session or not) is what its library said."""

        def comeback(name: str) -> tuple[float, bool] | None:
            lost = False
            for when, state, resumed in self.statuses[name]:
                if when > killed_at and state != "connected":
                    lost = True
                elif lost and state == "connected":
                    return when, resumed
            return None

        live = [n for n in self.names if n not in self.failed]
        self.wait_for(lambda: all(comeback(n) is not None for n in live), timeout)
        back = {name: comeback(name) for name in live}
        returns = [b[0] for b in back.values() if b is not None]
        return Restart(
            resumed=frozenset(n for n, b in back.items() if b is not None and b[1]),
            fresh=frozenset(n for n, b in back.items() if b is not None and not b[1]),
            missing=frozenset(n for n, b in back.items() if b is None),
            restart_seconds=served_at - killed_at,
            back_seconds=max(returns, default=time.time()) - killed_at,
        )


def _plans(options: Options, endpoint: str, work: Path, rng: random.Random) -> list[LoadPlan]:
    names = [f"load{i}" for i in range(options.workers)]
    deadline = time.time() + 60 + options.kills * (options.gap[1] + options.resume_timeout)
    plans = []
    for i, name in enumerate(names):
        # Each user stays in two of the three rooms, so every room has several members.
        rooms = tuple(room for j, room in enumerate(ROOMS) if j != i % len(ROOMS))
        plans.append(
            LoadPlan(
                endpoint=endpoint,
                name=name,
                peers=tuple(n for n in names if n != name) or (name,),
                rooms=rooms,
                churn_room=f"churn{i}",
                records=str(work / f"{name}.jsonl"),
                rate=options.rate,
                window=options.window,
                max_ops=options.max_ops,
                deadline=deadline,
                seed=rng.randrange(2**32),
                fresh_every=options.fresh_every,
            )
        )
    return plans


def read_history(endpoint: str, rooms: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
    """Every chat the store holds in ``rooms``, read through a client of its own."""
    rooms = sorted(rooms)
    history: dict[str, list[tuple[int, str]]] = {}
    with Client("crashcheck", endpoint, rooms=rooms, client_name="crash-check") as checker:
        for room in rooms:
            chats, after = [], 0
            while True:
                page = checker.history(room, after=after, limit=HISTORY_PAGE)
                chats += [(e.seq, e.text) for e in page.messages if isinstance(e, ChatEvent)]
                if not page.messages or not page.more:
                    break
                after = max(getattr(e, "seq", after) for e in page.messages)
            history[room] = chats
    return history


def run(options: Options, say: Callable[[str], object] = print) -> Outcome:
    """Run the whole test; ``say`` gets one line per stage, for a watching person."""
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    work = Path(options.directory or tempfile.mkdtemp(prefix="zmqchat-crash-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    broker = BrokerProcess(work / "broker", settings={"rate_limit": 0}, log_level="info")
    broker.start()
    plans = _plans(options, broker.endpoint, work, rng)
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    go, stop, final = context.Event(), context.Event(), context.Event()
    watcher = _Watcher(reports, (plan.name for plan in plans))
    processes: list[Spawned] = []
    restarts: list[Restart] = []
    unfinished: set[str] = set()
    try:
        processes = [spawn(run_load, plan, reports, go, stop, final) for plan in plans]
        unfinished |= watcher.wait_all("ready", 60)
        go.set()
        say(f"load: {len(plans)} processes; seed {seed}; records in {work}")
        for n in range(1, options.kills + 1):
            time.sleep(rng.uniform(*options.gap))  # a random moment under load
            killed_at = time.time()
            broker.kill()
            broker.start()
            restart = watcher.back_after(killed_at, time.time(), options.resume_timeout)
            restarts.append(restart)
            say(
                f"kill {n}/{options.kills}: broker back in {restart.restart_seconds:.2f} s, "
                f"{len(restart.resumed)} resumed"
                + (f", {len(restart.fresh)} on a new session" if restart.fresh else "")
                + (f", {len(restart.missing)} not back" if restart.missing else "")
                + f" after {restart.back_seconds:.2f} s"
            )
        stop.set()
        unfinished |= watcher.wait_all("settled", 120)
        final.set()
        unfinished |= watcher.wait_all("done", 120)
        rooms = {*ROOMS, *(plan.churn_room for plan in plans)}
        history = read_history(broker.endpoint, rooms)
    finally:
        for event in (go, stop, final):
            event.set()
        # Keep reading reports meanwhile: a process exits only once its queue is flushed.
        watcher.wait_for(lambda: not any(p.alive() for p in processes), 30)
        for plan, process in zip(plans, processes, strict=False):
            if process.alive():
                unfinished.add(plan.name)
                process.kill()  # by its pid
            elif process.returncode != 0:
                unfinished.add(plan.name)
        if broker.running:
            broker.stop()
    programs = {plan.name: list(read_records(plan.records)) for plan in plans}
    counts = check(
        programs,
        history,
        restarts,
        failed_programs=len(unfinished | watcher.failed),
        dropped_events=watcher.dropped,
    )
    return Outcome(counts, time.monotonic() - started, options, seed, work)
