"""Processes that talk through a broker: commands and Python callables, started,
signalled, waited for and reaped."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zmqchat.testing.broker import BrokerProcess


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
    broker: BrokerProcess | Sequence[BrokerProcess] | None = None,
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> Spawned:
    """Start a process that talks through the broker.

    ``target`` is a command (a list of arguments, run with ``subprocess.Popen`` and
    ``popen`` keyword arguments) or a picklable Python callable (run with
    ``args`` in a fresh interpreter: multiprocessing's ``spawn``). With ``broker``,
    commands get ``ZMQCHAT_HOST`` and ``ZMQCHAT_PORT`` in their environment, so
    ``zmqchat`` commands and programs using ``ClientConfig`` find it; with a list of
    brokers (nodes to fail over between), ``ZMQCHAT_ENDPOINTS`` instead.
    """
    if callable(target):
        process = multiprocessing.get_context("spawn").Process(
            target=target, args=args, daemon=True
        )
        process.start()
        return Spawned(process=process)
    full_env = dict(os.environ if env is None else env)
    if isinstance(broker, Sequence):
        full_env["ZMQCHAT_ENDPOINTS"] = ",".join(each.endpoint for each in broker)
        # A host or port from outside would name the broker a second way.
        full_env.pop("ZMQCHAT_HOST", None)
        full_env.pop("ZMQCHAT_PORT", None)
    elif broker is not None:
        full_env["ZMQCHAT_HOST"] = "127.0.0.1"
        full_env["ZMQCHAT_PORT"] = str(broker.port)
        full_env.pop("ZMQCHAT_ENDPOINTS", None)
    return Spawned(popen=subprocess.Popen(list(target), env=full_env, **popen))
