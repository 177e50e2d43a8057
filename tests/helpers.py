"""Test helpers: a raw wire-protocol peer and subscriber, a client in its own process."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import zmq

from zmqchat.testing import wait_until

AGENT = str(Path(__file__).with_name("agent.py"))

# How long one try of a wait blocks on a socket or pipe: it returns as soon as
# something arrives, so this only bounds how late a deadline is noticed.
POLL = 0.01


def pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)  # type: ignore[no-any-return]


class RawPeer:
    """A bare DEALER speaking protocol v1 byte for byte, like a bot in another language."""

    _refs = itertools.count(1)

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.welcome: dict[str, Any] = {}

    def send(self, msg: dict[str, Any] | bytes, *extra: bytes) -> None:
        frame = msg if isinstance(msg, bytes) else pack(msg)
        self.sock.send_multipart([frame, *extra])

    def poll(self, timeout: float = POLL) -> dict[str, Any] | None:
        """The next frame if one arrives within ``timeout``, else None."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frame: dict[str, Any] = msgpack.unpackb(self.sock.recv(), raw=False)
        return frame

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        frame = self.poll(timeout)
        if frame is None:
            raise AssertionError(f"no frame from the broker within {timeout}s")
        return frame

    def recv_type(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of type ``kind``, skipping others (e.g. pm events)."""
        seen: list[dict[str, Any]] = []

        def of_kind() -> dict[str, Any] | None:
            frame = self.poll()
            if frame is not None and frame.get("type") != kind:
                seen.append(frame)
                return None
            return frame

        return wait_until(of_kind, timeout, lambda: f"a {kind!r} frame; got {seen}", interval=0)

    def request(self, msg: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send one request with a fresh ref and return the reply carrying that ref."""
        ref = next(self._refs)
        self.send({**msg, "ref": ref})

        def reply() -> dict[str, Any] | None:
            frame = self.poll()
            return frame if frame is not None and frame.get("ref") == ref else None

        return wait_until(reply, timeout, f"the reply to {msg.get('type')!r}", interval=0)

    def register(self, user: str, **fields: Any) -> dict[str, Any]:
        reply = self.request({"type": "register", "user": user, "proto": 1, **fields})
        assert reply["type"] == "welcome", reply
        self.welcome = reply
        return reply

    def close(self) -> None:
        self.sock.close(0)


class RawSub:
    """A bare SUB socket on the broker's PUB port."""

    def __init__(self, endpoint: str, pub_port: int, *topics: bytes) -> None:
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.linger = 0
        self.sock.connect(f"{endpoint.rsplit(':', 1)[0]}:{pub_port}")
        for topic in topics:
            self.sock.subscribe(topic)

    def recv(self, timeout: float = 5.0) -> tuple[bytes, dict[str, Any]]:
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"nothing published within {timeout}s")
        topic, body = self.sock.recv_multipart()
        return topic, msgpack.unpackb(body, raw=False)

    def sync(self, peer: RawPeer, room: str, timeout: float = 10.0) -> None:
        """Make sure the subscription is live: chat into ``room`` until one arrives,
        then swallow what is left (the slow-joiner window, without a fixed sleep)."""

        def heard() -> int:
            assert peer.request({"type": "chat", "room": room, "text": "sync"})["type"] == "ack"
            return self.sock.poll(50)

        wait_until(heard, timeout, "the subscription to be live", interval=0)
        while self.sock.poll(100):
            self.sock.recv_multipart()

    def close(self) -> None:
        self.sock.close(0)


class Agent:
    """A zmqchat.Client in its own process (tests/agent.py), driven by JSON lines."""

    def __init__(self, endpoint: str, user: str, *args: str) -> None:
        self.user = user
        self.proc = subprocess.Popen(
            [sys.executable, AGENT, endpoint, user, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = itertools.count(1)
        self._cursors: dict[str, int] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))

    def _pump(self, timeout: float = 0) -> bool:
        """Take every line the reader has queued, waiting up to ``timeout`` for the
        first; False if none came."""
        try:
            self.lines.append(self._queue.get(timeout=timeout))
        except queue.Empty:
            return False
        # All at once: a burst is then scanned once, not once per line.
        with contextlib.suppress(queue.Empty):
            while True:
                self.lines.append(self._queue.get_nowait())
        return True

    def expect(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 10.0,
        what: str = "",
        cursor: str = "events",
    ) -> dict[str, Any]:
        """The next line satisfying ``predicate`` after the previous match on the same
        cursor (events and command replies are matched independently)."""
        wanted = f"{self.user}: a line matching {what or predicate}"

        def found() -> dict[str, Any] | None:
            start = self._cursors.get(cursor, 0)
            for index in range(start, len(self.lines)):
                if predicate(self.lines[index]):
                    self._cursors[cursor] = index + 1
                    return self.lines[index]
            if not self._pump(POLL) and self.proc.poll() is not None:
                raise AssertionError(f"{wanted}, but the agent exited; {self._last_words()}")
            return None

        return wait_until(found, timeout, lambda: f"{wanted}; {self._last_words()}", interval=0)

    def _last_words(self) -> str:
        stderr = ""
        if self.proc.poll() is not None and self.proc.stderr is not None:
            stderr = self.proc.stderr.read()
        return f"last lines: {self.lines[-8:]}\n{stderr}"

    def expect_event(self, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The next event whose fields include ``fields``."""

        def match(line: dict[str, Any]) -> bool:
            event = line.get("event")
            return line["kind"] == "event" and all(event.get(k) == v for k, v in fields.items())

        return self.expect(match, timeout, what=f"event {fields}")["event"]  # type: ignore[no-any-return]

    def call(self, op: str, timeout: float = 15.0, **args: Any) -> dict[str, Any]:
        """Run a command in the agent and return its reply (or error) line."""
        ident = next(self._ids)
        self.command(op, id=ident, **args)
        return self.expect(
            lambda line: line.get("id") == ident and line["kind"] in ("reply", "error", "done"),
            timeout,
            what=f"reply to {op}",
            cursor=f"call-{ident}",
        )

    def command(self, op: str, **args: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every line of ``kind`` (``ack``, ``reply``, ...) seen so far."""
        self._pump()
        return [line for line in self.lines if line["kind"] == kind]

    def events(self, **fields: Any) -> list[dict[str, Any]]:
        """Every event seen so far whose fields include ``fields``."""
        self._pump()
        return [
            line["event"]
            for line in self.lines
            if line["kind"] == "event" and all(line["event"].get(k) == v for k, v in fields.items())
        ]

    def kill(self) -> None:
        """SIGKILL, as in a crash: no bye."""
        self.proc.kill()
        self.proc.wait(10)

    def close(self, timeout: float = 10.0) -> int:
        """Ask the agent to close its client (bye) and exit; kill it if it won't."""
        if self.proc.poll() is None:
            try:
                self.command("close")
                self.proc.wait(timeout)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        code = self.proc.wait(10)
        self._reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        return code
