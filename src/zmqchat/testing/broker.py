"""A real broker for tests: a ``zmqchat broker`` process on free loopback ports that
can be killed, restarted on the same ports and store, paused and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class BrokerProcess:
    """A ``zmqchat broker`` subprocess bound to 127.0.0.1."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        settings: Mapping[str, Any] | None = None,
        log_level: str | None = "debug",
        startup_timeout: float = 15.0,
        wrapper: Sequence[str] = (),
        watch_parent: bool = True,
        bind_host: str = "127.0.0.1",
    ) -> None:
        """``settings``: broker config keys (``timeout``, ``rate_limit``, ...) passed
        as ``ZMQCHAT_*`` environment variables. ``wrapper``: a command the broker runs
        under, e.g. ``("prlimit", "--nofile=256")`` to test a low open-file limit.
        ``watch_parent=False`` leaves out ``--parent-pid``, whose periodic check would
        wake the broker's loop (a test of how it wakes without one); the test must
        then stop the broker itself. ``bind_host``: the address to bind (clients still
        use :attr:`endpoint`, on 127.0.0.1). ``log_level=None`` passes no
        ``--log-level``: the broker logs at its configured level, as shipped."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.db = str(self.directory / "broker.db")
        self.ready_file = self.directory / "broker.ready.json"
        self.log_file = self.directory / "broker.log"
        self.settings = dict(settings or {})
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.wrapper = tuple(wrapper)
        self.watch_parent = watch_parent
        self.bind_host = bind_host
        self.port = 0
        self.pub_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    host = "127.0.0.1"  # brokers for tests listen on loopback only

    @property
    def endpoint(self) -> str:
        """The ROUTER endpoint clients connect to."""
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def pub_endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.pub_port}"

    @property
    def public_key(self) -> str | None:
        """The broker's CURVE public key (Z85), with ``encryption = "curve"``."""
        key: str | None = self.info.get("public_key")
        return key

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> BrokerProcess:
        """Start the broker and wait until it serves. Restarts reuse the same ports."""
        if self.running:
            raise RuntimeError("the broker is already running")
        self.ready_file.unlink(missing_ok=True)
        env = dict(os.environ)
        env.pop("ZMQCHAT_CONFIG", None)
        for key, value in self.settings.items():
            env["ZMQCHAT_" + key.upper()] = str(value)
        cmd = [
            *self.wrapper,
            sys.executable, "-m", "zmqchat", "broker",
            "--host", self.bind_host,
            "--port", str(self.port),
            "--pub-port", str(self.pub_port),
            "--db", self.db,
            "--ready-file", str(self.ready_file),
            *(("--log-level", self.log_level) if self.log_level else ()),
            *(("--parent-pid", str(os.getpid())) if self.watch_parent else ()),
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + self.startup_timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the broker exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the broker did not start in time:\n{self.log_tail()}")
            time.sleep(0.01)
        self.info = json.loads(self.ready_file.read_text())
        self.port, self.pub_port = self.info["port"], self.info["pub_port"]
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, and wait for the clean shutdown; returns the exit code."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the broker dies at once, as in a crash."""
        self._end(signal.SIGKILL, 10.0)

    def restart(self) -> BrokerProcess:
        """Kill (if running) and start again on the same ports and store."""
        if self.running:
            self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the broker stops answering but keeps its connections."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _end(self, signum: int, timeout: float) -> int:
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signum)
            if signum != signal.SIGKILL:
                process.send_signal(signal.SIGCONT)  # in case it was paused
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> BrokerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.running:
            self.kill()
