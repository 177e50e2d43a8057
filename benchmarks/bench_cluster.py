"""The Redis engine (issue 17, item 5): two broker nodes on one Redis, on the same
machine as their load, so the figures show the engine's overhead and that nothing
is lost, not the scale gains of more machines.

Each figure runs beside its baseline in the same run:
* ingest (4 publishers, 200 chats each unacknowledged, 1 subscriber, as
  bench_rooms' ingest) through one node, and through two (the publishers split
  across them), against one broker on SQLite;
* fan-out to 100 subscribers split across the two nodes, against raw PUB->SUB;
* the hop: a chat sent to node A, timed to its arrival on node B's PUB, one in
  flight (the same with one SQLite broker beside it);
* failover: 1,000 sessions on node A, which is killed with SIGKILL; every session
  resumes on node B, while two publishers chat through the kill: then every
  acknowledged chat must be in B's history once, at its acked seq, with no gap.

Redis runs as a child on a unix socket, with AOF ``appendfsync everysec`` (what a
Debian redis-server with ``appendonly yes`` does) for every goal; ingest is also
measured without persistence.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    CTX,
    WINDOW,
    Children,
    Metric,
    at_least,
    below,
    get,
    now,
    percentile,
    warm_then_go,
    zmqchat_broker,
)
from benchmarks.load import WARM_ROOM, chat_publisher, raw_publisher, subscribers
from benchmarks.load_cluster import (
    failover_crowd,
    failover_publisher,
    hop_prober,
    member,
    room_witness,
)
from zmqchat.testing import BrokerProcess
from zmqchat.testing.redis import RedisProcess

EVERYSEC = "everysec"  # the persistence the goals are measured with
NONE = "none"  # no AOF, no snapshots: Redis's own floor


@contextlib.contextmanager
def redis_nodes(
    count: int, persistence: str = EVERYSEC, pids: list[int] | None = None
) -> Iterator[list[BrokerProcess]]:
    """A redis-server of its own and ``count`` broker nodes on it (``engine =
    "redis"``), each as zmqchat_broker() starts one (the shipped log level, no rate
    limit). ``pids`` gets the nodes' and then Redis's process ids."""
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="zmqchat-bench-redis-"))
        fsync = None if persistence == NONE else persistence
        server = stack.enter_context(RedisProcess(Path(tmp), appendfsync=fsync))
        settings = {"engine": "redis", "engine_url": server.url}
        nodes = [
            stack.enter_context(zmqchat_broker(node_name=f"node{i}", **settings))
            for i in range(count)
        ]
        if pids is not None:
            pids += [node.pid or 0 for node in nodes] + [server.pid or 0]
        yield nodes


@contextlib.contextmanager
def system(name: str, pids: list[int] | None = None) -> Iterator[list[BrokerProcess]]:
    """``sqlite`` (one broker, the default engine), or ``redis1``/``redis2`` with
    ``:none`` or ``:everysec``. ``pids`` gets the servers' process ids."""
    if name == "sqlite":
        with zmqchat_broker() as broker:
            if pids is not None:
                pids.append(broker.pid or 0)
            yield [broker]
        return
    kind, _, persistence = name.partition(":")
    with redis_nodes(int(kind[-1]), persistence or EVERYSEC, pids) as nodes:
        yield nodes


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------- rooms


def room_load(
    brokers: list[BrokerProcess], publishers: int, subs: int, duration: float
) -> dict[str, float]:
    """bench_rooms.room_run's load on ``brokers`` (none: the raw PUB): publishers and
    subscribers spread over the brokers in turn, every SUB with a session on the
    broker whose PUB it reads."""
    pub_q: Any = CTX.Queue()
    sub_q: Any = CTX.Queue()
    warm, go, stop = CTX.Event(), CTX.Event(), CTX.Event()
    with Children() as children:
        if brokers:
            for i in range(publishers):
                endpoint = brokers[i % len(brokers)].endpoint
                children.start(chat_publisher, endpoint, f"pub{i}", WINDOW, duration, pub_q, warm,
                               go)  # fmt: skip
            pubs = [(b.pub_endpoint, b.endpoint) for b in brokers]
            for k, other in enumerate(brokers[1:]):
                # The publishers' warm-up chats go to another room, which a node
                # publishes only once it has a member there.
                children.start(member, other.endpoint, f"warm{k}", (WARM_ROOM,), pub_q, stop)
                get(pub_q, 30, "a member of the warm-up room")
        else:
            ports: Any = CTX.Queue()
            children.start(raw_publisher, ports, duration, pub_q, warm, go)
            pubs = [(f"tcp://127.0.0.1:{get(ports, 20, 'the raw port')[1]}", "")]
            publishers = 1
        procs = 1 if subs == 1 else 4  # as bench_rooms spreads 100 SUBs
        shares = [subs // procs + (k < subs % procs) for k in range(procs)]
        for k, share in enumerate(shares):
            pub, endpoint = pubs[k % len(pubs)]
            members = (endpoint, f"sub{k}-") if endpoint else None
            children.start(subscribers, pub, share, sub_q, stop, members)
        t_go = warm_then_go(pub_q, sub_q, publishers, len(shares), warm, go)
        acks, t_end = 0, t_go
        for _ in range(publishers):
            _, n_acks, _, _, ended, error = get(pub_q, duration + 60, "a publisher done")
            if error:
                raise RuntimeError(error)
            acks, t_end = acks + n_acks, max(t_end, ended)
        stop.set()
        received, last = 0, t_go
        for _ in shares:
            _, n, t_last = get(sub_q, 30, "subscriber counts")
            received, last = received + n, max(last, t_last)
    return {
        "acks": acks,
        "acks_per_s": acks / (t_end - t_go),
        "deliveries_per_s": received / (last - t_go) if received else 0.0,
        "delivered_share": received / (acks * subs) if acks else 0.0,
    }


def ingest(name: str, duration: float) -> dict[str, Any]:
    """Acks/s, and the CPU each server process (nodes, then Redis) spent per ack."""
    pids: list[int] = []
    with system(name, pids) as brokers:
        before = [cpu_seconds(pid) for pid in pids]
        result = room_load(brokers, 4, 1, duration)
        spent = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
    # Per ack, over the whole measurement (its start and warm-up too: a little high).
    return {"acks_per_s": result["acks_per_s"], "cpu_us": [s / result["acks"] * 1e6 for s in spent]}


def fanout(name: str, duration: float) -> dict[str, float]:
    if name == "raw":
        return room_load([], 1, 100, duration)
    with system(name) as brokers:
        return room_load(brokers, 1, 100, duration)


# ----------------------------------------------------------------------- the hop


def hop(name: str, samples: int) -> list[float]:
    """Sorted latencies (s) of a chat from the first broker to the last one's PUB."""
    out: Any = CTX.Queue()
    with system(name) as brokers, Children() as children:
        a, b = brokers[0], brokers[-1]
        children.start(hop_prober, a.endpoint, b.endpoint, b.pub_endpoint, samples, out)
        latencies: list[float] = get(out, 60 + samples * 0.02, "hop latencies")[1]
    return latencies


# ----------------------------------------------------------------------- failover


def failover(clients: int, rooms: int = 20, talk: float = 1.0) -> dict[str, float]:
    """Kill node A under ``clients`` sessions and two publishers, which chat for
    ``talk`` seconds before the kill and after the last resume; see the module."""
    crowd_q: Any = CTX.Queue()
    pub_q: Any = CTX.Queue()
    witness_q: Any = CTX.Queue()
    go, stop, chatting, quiet = CTX.Event(), CTX.Event(), CTX.Event(), CTX.Event()
    with redis_nodes(2) as (a, b), Children() as children:
        children.start(room_witness, b.endpoint, b.pub_endpoint, witness_q, quiet)
        get(witness_q, 30, "the witness ready")
        publishers = [f"talker{i}" for i in range(2)]
        for user in publishers:
            children.start(failover_publisher, a.endpoint, b.endpoint, user, 200.0, pub_q,
                           (chatting, stop))  # fmt: skip
        for _ in publishers:
            get(pub_q, 30, "a publisher ready")
        shares = [clients // 2 + (k < clients % 2) for k in range(2)]
        first = 0
        for share in shares:
            children.start(failover_crowd, a.endpoint, b.endpoint, first, share, rooms, crowd_q,
                           (go, quiet))  # fmt: skip
            first += share
        t_go = now()
        go.set()
        for _ in shares:
            _, failures = get(crowd_q, 120, "a crowd registered on node A")
            if failures:
                raise RuntimeError(f"failover: register on node A failed: {failures}")
        registered = now() - t_go
        chatting.set()
        stopper = now() + talk
        while now() < stopper:
            stop.wait(0.05)
        t_kill = now()
        a.kill()
        last, noticed, same = t_kill, 0.0, 0
        for _ in shares:
            _, t_noticed, t_last, n_same, failures = get(crowd_q, 60, "a crowd resumed on B")
            if failures:
                raise RuntimeError(f"failover: resume on node B failed: {failures}")
            last, noticed, same = max(last, t_last), max(noticed, t_noticed), same + n_same
        stop.wait(talk)  # the publishers chat on, on B
        stop.set()
        acked: dict[str, int] = {}
        errors: list[str] = []
        for _ in publishers:
            _, got, errs = get(pub_q, 30, "a publisher done")
            acked.update(got)
            errors += errs
        quiet.set()
        _, heard, stored = get(witness_q, 60, "the witness's history")
    if errors:
        raise RuntimeError(f"failover: the publishers got errors: {errors}")
    return {
        "resumed_s": last - t_kill,
        "noticed_s": noticed - t_kill,
        "registered_s": registered,
        "resumed_share": same / clients,
        "acked": len(acked),
        **check(acked, heard, stored),
    }


def check(
    acked: dict[str, int], heard: list[int], stored: list[tuple[int, str, str, str]]
) -> dict[str, float]:
    """Acknowledged chats missing from B's history (or at another seq), seqs missing
    from it or from what B's subscriber heard, and chats or seqs there twice."""
    seqs = [seq for seq, *_ in stored]
    by_text: dict[str, list[int]] = {}
    for seq, kind, _, text in stored:
        if kind == "chat":
            by_text.setdefault(text, []).append(seq)
    lost = sum(by_text.get(text, [None])[0] != seq for text, seq in acked.items())
    gaps = (max(seqs, default=0) - len(set(seqs))) + _missing(heard)
    dups = sum(len(v) - 1 for v in by_text.values()) + (len(seqs) - len(set(seqs)))
    dups += len(heard) - len(set(heard))
    return {"lost": lost, "gaps": gaps, "duplicates": dups, "heard": len(heard)}


def _missing(heard: list[int]) -> int:
    """Seqs skipped in what a subscriber heard, from the first it heard on."""
    return 0 if not heard else (max(heard) - min(heard) + 1) - len(set(heard))


# ----------------------------------------------------------------------- metrics


def _none(m: Metric) -> bool:
    return bool(m.ours) and max(m.ours) == 0


def _alternate(runs: int, names: tuple[str, ...], measure: Any) -> dict[str, list[Any]]:
    """Each of ``names`` once per run, their order reversed every other run."""
    results: dict[str, list[Any]] = {n: [] for n in names}
    for i in range(runs):
        for name in names if i % 2 == 0 else tuple(reversed(names)):
            results[name].append(measure(name))
    return results


def run(quick: bool) -> list[Metric]:
    runs = 1 if quick else 3
    duration = 1.0 if quick else 3.0
    persistences = (EVERYSEC,) if quick else (EVERYSEC, NONE)
    names = ("sqlite", *(f"redis{n}:{p}" for p in persistences for n in (1, 2)))
    rates = _alternate(runs, names, lambda n: ingest(n, duration))
    metrics = []
    base = [r["acks_per_s"] for r in rates["sqlite"]]
    base_cpu = [r["cpu_us"][0] for r in rates["sqlite"]]
    for n, goal in ((1, 0.5), (2, 0.8)):
        for p in persistences:
            ours = rates[f"redis{n}:{p}"]
            m = Metric(
                name=f"ingest through {n} node{'s' * (n > 1)} (Redis, {p}): acks/s",
                unit="msg/s",
                ours=[r["acks_per_s"] for r in ours],
                base=base,
                baseline="one broker, SQLite",
                extra={
                    # CPU per ack: the SQLite broker; each node (the sum); Redis.
                    "sqlite_cpu_us_per_ack": base_cpu,
                    "nodes_cpu_us_per_ack": [sum(r["cpu_us"][:-1]) for r in ours],
                    "redis_cpu_us_per_ack": [r["cpu_us"][-1] for r in ours],
                },
            )
            if p == EVERYSEC:
                m.goal, m.goal_check = f">= {goal}x", at_least(goal)
            metrics.append(m)
    fan = _alternate(runs, ("redis2", "raw"), lambda n: fanout(n, duration))
    metrics.append(Metric(
        name="fan-out, 100 subscribers on 2 nodes: deliveries/s",
        unit="deliveries/s",
        ours=[r["deliveries_per_s"] for r in fan["redis2"]],
        base=[r["deliveries_per_s"] for r in fan["raw"]],
        baseline="raw PUB->SUB",
        goal=">= 0.6x",
        goal_check=at_least(0.6),
        extra={"delivered_share": [r["delivered_share"] for r in fan["redis2"]]},
    ))  # fmt: skip
    samples = 200 if quick else 2000
    hops = _alternate(runs, ("redis2", "sqlite"), lambda n: hop(n, samples))
    for q, limit in ((0.5, 1.0), (0.99, 5.0)):
        metrics.append(Metric(
            name=f"room event node A -> subscriber on B, p{round(q * 100)}",
            unit="ms",
            ours=[percentile(h, q) * 1e3 for h in hops["redis2"]],
            base=[percentile(h, q) * 1e3 for h in hops["sqlite"]],
            baseline="one broker, SQLite: its own PUB",
            better="lower",
            goal=f"<= {limit:g} ms",
            goal_check=below(limit),
        ))  # fmt: skip
    clients = 200 if quick else 1000
    fails = [failover(clients, talk=0.5 if quick else 1.0) for _ in range(runs)]
    metrics.append(Metric(
        name=f"failover, {clients:,} clients: kill -9 of A to the last welcome on B",
        unit="s",
        ours=[f["resumed_s"] for f in fails],
        better="lower",
        goal="<= 3 s",
        goal_check=below(3.0),
        extra={k: [f[k] for f in fails] for k in ("noticed_s", "registered_s", "resumed_share")},
    ))  # fmt: skip
    for what in ("lost", "gaps", "duplicates"):
        metrics.append(Metric(
            name=f"failover: acked chats {what}" if what == "lost" else f"failover: {what}",
            unit="count",
            ours=[f[what] for f in fails],
            better="lower",
            goal="0",
            goal_check=_none,
            extra={"acked": [f["acked"] for f in fails], "heard": [f["heard"] for f in fails]},
        ))  # fmt: skip
    return metrics
