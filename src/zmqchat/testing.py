"""Helpers for tests that need a real broker: start it as a process on free loopback
ports, kill it, restart it on the same ports and store, pause it; wait for an event
that matches; run other processes that talk through it.

::

    broker = BrokerProcess(tmp_path)
    broker.start()
    with Client("alice", broker.endpoint) as alice:
        expect(alice, "chat", room="general", text="hi")
    broker.kill()
    broker.restart()

The broker is started with ``--parent-pid`` so it exits by itself if the test
process dies, and with ``--port 0 --ready-file`` so it picks free ports and says
which (no port races between parallel test runs). The pytest fixtures built on
these live in :mod:`zmqchat.pytest_plugin`.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from zmqchat.errors import ConnectionClosed, Timeout

if TYPE_CHECKING:
    from zmqchat.aio import AsyncClient
    from zmqchat.client.io.sync import Client

__all__ = ["BrokerProcess", "Spawned", "async_expect", "expect", "matches", "spawn"]


class BrokerProcess:
    """A ``zmqchat broker`` subprocess bound to 127.0.0.1."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        settings: Mapping[str, Any] | None = None,
        log_level: str = "debug",
        startup_timeout: float = 15.0,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``settings``: broker config keys (``timeout``, ``rate_limit``, ...) passed
        as ``ZMQCHAT_*`` environment variables. ``wrapper``: a command the broker runs
        under, e.g. ``("prlimit", "--nofile=256")`` to test a low open-file limit."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.db = str(self.directory / "broker.db")
        self.ready_file = self.directory / "broker.ready.json"
        self.log_file = self.directory / "broker.log"
        self.settings = dict(settings or {})
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.wrapper = tuple(wrapper)
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
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--pub-port", str(self.pub_port),
            "--db", self.db,
            "--ready-file", str(self.ready_file),
            "--parent-pid", str(os.getpid()),
            "--log-level", self.log_level,
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


# --------------------------------------------------------------------- expecting


def _kind(event: Any) -> str:
    """The wire type of an event record ("chat", "pm", ...) or "status"."""
    return str(getattr(event, "TYPE", "") or type(event).__name__.removesuffix("Event").lower())


def matches(event: Any, kind: str | type | None = None, **fields: Any) -> bool:
    """True when ``event`` is of ``kind`` (a record class, or a wire type such as
    ``"chat"``, ``"pm"``, ``"presence"``, ``"system"``, ``"status"``) and has every
    attribute in ``fields`` equal to the value given."""
    if isinstance(kind, type):
        if not isinstance(event, kind):
            return False
    elif kind is not None and _kind(event) != kind:
        return False
    missing = object()
    return all(getattr(event, name, missing) == value for name, value in fields.items())


class _Expectation:
    """The bookkeeping :func:`expect` and :func:`async_expect` share: the deadline,
    the events passed over, and the failure that lists them."""

    def __init__(self, kind: str | type | None, fields: dict[str, Any], timeout: float) -> None:
        self.kind, self.fields, self.timeout = kind, fields, timeout
        self.deadline = time.monotonic() + timeout
        self.seen: list[Any] = []

    def remaining(self) -> float:
        """Time left to wait; fails the test when there is none."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.fail()
        return left

    def met_by(self, event: Any) -> bool:
        if matches(event, self.kind, **self.fields):
            return True
        self.seen.append(event)
        return False

    def fail(self) -> NoReturn:
        shown = "\n  ".join(repr(event) for event in self.seen[-20:]) or "(nothing)"
        kind = self.kind
        name = kind.__name__ if isinstance(kind, type) else kind or "event"
        raise AssertionError(
            f"no {name} matching {self.fields} within {self.timeout:g}s; "
            f"{len(self.seen)} other event(s) arrived:\n  {shown}"
        )


def expect(
    client: Client, kind: str | type | None = None, timeout: float = 10.0, **fields: Any
) -> Any:
    """Wait for the next event of ``client`` that :func:`matches` ``kind`` and
    ``fields``; events before it are consumed. On timeout, fail with an
    AssertionError listing what did arrive::

        expect(bob, "chat", room="general", text="hello")
        expect(bob, PmEvent, sender="alice")
    """
    wanted = _Expectation(kind, fields, timeout)
    while True:
        try:
            event = client.next_event(wanted.remaining())
        except (Timeout, ConnectionClosed):
            wanted.fail()
        if wanted.met_by(event):
            return event


async def async_expect(
    client: AsyncClient, kind: str | type | None = None, timeout: float = 10.0, **fields: Any
) -> Any:
    """:func:`expect` for a :class:`~zmqchat.aio.AsyncClient`."""
    wanted = _Expectation(kind, fields, timeout)
    while True:
        try:
            event = await client.next_event(wanted.remaining())
        except (Timeout, ConnectionClosed):
            wanted.fail()
        if wanted.met_by(event):
            return event


# ----------------------------------------------------------------------- spawning


class Spawned:
    """A process started by :func:`spawn`: a command (``popen`` set) or a Python
    callable (``process`` set)."""

    def __init__(
        self, popen: subprocess.Popen[bytes] | None = None, process: BaseProcess | None = None
    ) -> None:
        self.popen = popen
        self.process = process
        self._exitcode: int | None = None  # a callable's, kept once its Process is closed

    @property
    def pid(self) -> int:
        pid = self.popen.pid if self.popen is not None else self.process.pid  # type: ignore[union-attr]
        assert pid is not None
        return pid

    @property
    def returncode(self) -> int | None:
        if self.popen is not None:
            return self.popen.poll()
        assert self.process is not None
        if self._exitcode is not None:  # closed after it ended
            return self._exitcode
        return self.process.exitcode

    def alive(self) -> bool:
        return self.returncode is None

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to end and return its exit code (TimeoutError if not)."""
        if self.popen is not None:
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"process {self.pid} still running after {timeout}s") from None
        assert self.process is not None
        if self._exitcode is not None:
            return self._exitcode
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise TimeoutError(f"process {self.pid} still running after {timeout}s")
        return self.process.exitcode

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL, reap, and close its pipes."""
        self.signal(signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            self.wait(10)
        self._release()

    def _release(self) -> None:
        if self.popen is not None:
            for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
                if stream is not None:
                    stream.close()
        elif self.process is not None and self._exitcode is None:
            self._exitcode = self.process.exitcode
            if self._exitcode is not None:
                self.process.close()

    def terminate(self, timeout: float = 5.0) -> int | None:
        """SIGTERM; SIGKILL if it does not end within ``timeout``. Returns the code."""
        self.signal(signal.SIGTERM)
        try:
            code = self.wait(timeout)
        except TimeoutError:
            self.kill()
            return self.returncode
        self._release()
        return code


def spawn(
    target: Sequence[str] | Callable[..., object],
    *args: Any,
    broker: BrokerProcess | None = None,
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> Spawned:
    """Start a process that talks through the broker.

    ``target`` is a command (a list of arguments, run with ``subprocess.Popen`` and
    ``popen`` keyword arguments) or a picklable Python callable (run with
    ``args`` in a fresh interpreter: multiprocessing's ``spawn``). With ``broker``,
    commands get ``ZMQCHAT_HOST`` and ``ZMQCHAT_PORT`` in their environment, so
    ``zmqchat`` commands and programs using ``ClientConfig`` find it.
    """
    if callable(target):
        process = multiprocessing.get_context("spawn").Process(
            target=target, args=args, daemon=True
        )
        process.start()
        return Spawned(process=process)
    full_env = dict(os.environ if env is None else env)
    if broker is not None:
        full_env["ZMQCHAT_HOST"] = "127.0.0.1"
        full_env["ZMQCHAT_PORT"] = str(broker.port)
    return Spawned(popen=subprocess.Popen(list(target), env=full_env, **popen))
