"""A real ``redis-server`` for tests: on a unix socket of its own, no files left
behind (or an append-only file, to test durability), stopped by its pid.

::

    server = RedisProcess(tmp_path).start()
    engine = redis.Redis.from_url(server.url)
    server.kill()      # SIGKILL, as in a crash
    server.restart()   # same socket and data directory

It dies with the process that started it (``setpriv --pdeathsig``), so a killed
test run leaves no server behind.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from zmqchat.testing.waiting import wait_until


class RedisProcess:
    """``redis-server`` on a unix socket; ``appendfsync`` (``always``, ``everysec``)
    turns the append-only file on, otherwise nothing is persisted."""

    def __init__(self, directory: Path, *, appendfsync: str | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # A unix socket's path is limited to 107 bytes: a short folder of its own.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="zr"))
        self.socket = self._socket_dir / "redis.sock"
        self.appendfsync = appendfsync
        self.log_file = self.directory / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout: float = 10.0) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        persistence = (
            ["--appendonly", "yes", "--appendfsync", self.appendfsync]
            if self.appendfsync
            else ["--appendonly", "no"]
        )
        command = [
            binary,
            "--port", "0",  # no TCP: the unix socket only
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--save", "",
            *persistence,
            "--logfile", str(self.log_file),
        ]  # fmt: skip
        # setpriv (util-linux) sets the parent-death signal, then runs redis-server.
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, close_fds=True)
        wait_until(self._answers, timeout, f"redis-server on {self.socket} (log {self.log_file})")
        return self

    def _answers(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"redis-server exited {self._proc.returncode}: {self.log_tail()}")
        with socket.socket(socket.AF_UNIX) as sock:
            try:
                sock.settimeout(1.0)
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
            except OSError:
                return False

    def kill(self) -> None:
        """SIGKILL, as in a crash; what the append-only file holds survives."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def stop(self) -> None:
        """SIGTERM, the clean shutdown."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
            self._proc = None

    def restart(self) -> RedisProcess:
        self.kill()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        return self.start()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
