"""Two broker nodes on one Redis, on this machine: the Redis engine to try (issue 17,
docs/scaling.md). ``make two-nodes`` runs it.

It starts a ``redis-server`` that listens only on a unix socket in the data folder
(append-only file, ``appendfsync always``: nothing acknowledged is lost if it is
killed), then two ``zmqchat broker`` processes with ``engine = "redis"``:

    node a   tcp://127.0.0.1:5555 (PUB 5556)
    node b   tcp://127.0.0.1:5565 (PUB 5566)

each with a store of its own in the data folder, and one files folder both use, as
nodes on several machines share a mount (default: the user data dir's
``two-nodes``, so history survives a restart; ``--dir`` to change).
It prints how to connect, and each node's pid so that you can ``kill -9`` one and
watch the clients move to the other. A killed node is not restarted; Ctrl-C stops
everything (so do SIGTERM and SIGHUP), each process by its pid; a launcher killed
outright takes the nodes and Redis with it.

    python scripts/two_nodes.py [--dir DIR] [--host 127.0.0.1] [--ports 5555,5565]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import platformdirs

NODES = ("a", "b")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_dir = Path(platformdirs.user_data_dir("zmqchat", appauthor=False)) / "two-nodes"
    parser.add_argument("--dir", type=Path, default=default_dir, help=f"default {default_dir}")
    parser.add_argument("--host", default="127.0.0.1", help="the address both nodes bind")
    parser.add_argument("--ports", default="5555,5565", help="the nodes' ROUTER ports (PUB: +1)")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    if len(ports) != len(NODES):
        parser.error("--ports takes two ports, comma-separated")
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        print("two-nodes: redis-server is not installed (apt-get install redis-server)")
        return 1
    base = args.dir.resolve()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    socket_path = base / "redis.sock"
    if len(str(socket_path)) > 100:
        print(f"two-nodes: {socket_path} is too long for a unix socket; give a shorter --dir")
        return 1
    procs: dict[str, subprocess.Popen[bytes]] = {}
    # SIGTERM and a closed terminal's SIGHUP stop everything as Ctrl-C does, and a
    # launcher killed outright takes the nodes with it (--parent-pid): none is left
    # serving with nobody to stop it. Redis goes when this process does
    # (--pdeathsig), as the tests' does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)  # also when started with SIGINT ignored
    try:
        procs["redis"] = subprocess.Popen(
            [*_dies_with_us(), redis_server, "--port", "0", "--unixsocket", str(socket_path),
             "--unixsocketperm", "700", "--dir", str(base), "--appendonly", "yes",
             "--appendfsync", "always", "--save", "", "--logfile", str(base / "redis.log")],
        )  # fmt: skip
        if not _wait_for(socket_path.exists, 10):
            print(f"two-nodes: redis-server did not start (see {base / 'redis.log'})")
            return 1
        zmqchat = [sys.executable, "-m", "zmqchat"]
        for name, port in zip(NODES, ports, strict=True):
            folder = base / f"node-{name}"
            folder.mkdir(exist_ok=True, mode=0o700)
            env = dict(
                os.environ,
                ZMQCHAT_ENGINE="redis",
                ZMQCHAT_ENGINE_URL=f"unix://{socket_path}",
                ZMQCHAT_NODE_NAME=name,
                ZMQCHAT_DATA_DIR=str(folder),
                ZMQCHAT_FILES_DIR=str(base / "files"),
            )
            procs[name] = subprocess.Popen(
                [*zmqchat, "broker", "--host", args.host, "--port", str(port),
                 "--pub-port", str(port + 1), "--db", str(folder / "zmqchat.db"),
                 "--parent-pid", str(os.getpid())],
                env=env,
            )  # fmt: skip
        endpoints = " ".join(f"--endpoint tcp://{args.host}:{port}" for port in ports)
        # The zmqchat next to this Python (make's .venv), unless it is what PATH finds.
        here = Path(sys.executable).with_name("zmqchat")
        found = shutil.which("zmqchat")
        command = "zmqchat" if not here.exists() or (found and Path(found) == here) else str(here)
        pairs = zip(NODES, ports, strict=True)
        where = [f"node {n} on port {p} (pid {procs[n].pid})" for n, p in pairs]
        print(
            f"\ntwo-nodes: Redis on {socket_path} (pid {procs['redis'].pid}); "
            + ", ".join(where)
            + f"\n  chat:  {command} chat --user alice {endpoints}"
            + f"\n  GUI:   {command} gui --user bob {endpoints}"
            + f"\n  kill a node to see the clients move: kill -9 {procs[NODES[0]].pid}"
            + "\n  Ctrl-C stops Redis and both nodes.\n",
            flush=True,
        )
        return _watch(procs)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(procs)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _dies_with_us() -> list[str]:
    """A prefix that has the kernel end the command when this process ends."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


def _watch(procs: dict[str, subprocess.Popen[bytes]]) -> int:
    """Say when a process ends; end when Redis does or no node is left."""
    ended: set[str] = set()
    while True:
        for name, proc in procs.items():
            if name not in ended and proc.poll() is not None:
                ended.add(name)
                print(f"two-nodes: {name if name == 'redis' else 'node ' + name} exited "
                      f"({_status(proc.returncode)})", flush=True)  # fmt: skip
        if "redis" in ended or all(n in ended for n in NODES):
            return 1
        time.sleep(0.2)


def _status(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Nodes first (they flush their stores), then Redis; by pid, SIGKILL past 10 s."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C does not cut this short
    for name in (*NODES, "redis"):
        proc = procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


if __name__ == "__main__":
    sys.exit(main())
