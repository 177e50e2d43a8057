"""What the cluster tests share: a broker node on a thread, and a relay to Redis
that a test can cut, as a network would."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.helpers import RawPeer

from zmqchat.broker.server import BrokerServer
from zmqchat.common.config import BrokerConfig

LEASE = 1.0  # seconds: a stopped node is gone soon after
FORGET = 0.5  # seconds an empty room without chat is kept


class Node:
    """A BrokerServer on a thread, on free loopback ports."""

    def __init__(self, path: Path, url: str, name: str, **settings: Any) -> None:
        config = BrokerConfig(
            host="127.0.0.1", port=0, pub_port=0, db=str(path), rate_limit=0,
            engine="redis", engine_url=url, node_name=name, node_lease=LEASE,
            forget_rooms_after=FORGET, **settings,
        )  # fmt: skip
        self.server = BrokerServer(config)
        self.server.bind()
        self.thread = threading.Thread(target=self.server.run, name=f"node-{name}")
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.stop()
            self.thread.join(timeout=10)
        assert not self.thread.is_alive()


class Relay:
    """A unix socket that relays to ``target`` (a redis-server's) until :meth:`cut`:
    then every connection through it is closed, and new ones are closed as they
    come, until :meth:`mend`. A node given :attr:`url` loses Redis while the
    others keep it."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)
        self._dir = Path(tempfile.mkdtemp(prefix="zl"))  # a unix socket's path is short
        self.path = self._dir / "relay.sock"
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(self.path))
        self._listener.listen(64)
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked on it

    def mend(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self.cut()
        self._listener.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._cut.is_set():
                down.close()
                continue
            up = socket.socket(socket.AF_UNIX)
            try:
                up.connect(self.target)
            except OSError:
                down.close()
                up.close()
                continue
            with self._lock:
                self._open |= {down, up}
            for src, dst in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(src)
            src.close()


_peers: list[RawPeer] = []


def peer(endpoint: str) -> RawPeer:
    """A raw DEALER, closed after the test (conftest.py)."""
    _peers.append(RawPeer(endpoint))
    return _peers[-1]


def close_peers() -> None:
    while _peers:
        _peers.pop().sock.close(0)


@contextlib.contextmanager
def two_nodes(directory: Path, url: str, **settings: Any) -> Iterator[tuple[Node, Node]]:
    """Nodes ``a`` and ``b`` on the Redis at ``url``, stopped after the block."""
    a = Node(directory / "a.db", url, "a", **settings)
    try:
        b = Node(directory / "b.db", url, "b", **settings)
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()
