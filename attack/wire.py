"""Raw wire helpers shared by the bystander, the attackers and the probe: endpoints
with a source address, msgpack frames, and a blocking register."""

from __future__ import annotations

import itertools
import time
from typing import Any

import msgpack
import zmq

BROKER_HOST = "127.0.0.1"
BYSTANDER_HOST = "127.0.0.2"  # a peer of its own: per-address limits must spare it
ATTACKER_HOST = "127.0.0.3"
NEWCOMER_HOST = "127.0.0.4"

_names = itertools.count()


def endpoint(source: str, port: int) -> str:
    """``tcp://SRC:0;DST:PORT``: libzmq 4.3 needs the source's port (0, any); without
    it (``tcp://SRC;DST:PORT``) the connect is retried for ever and never made."""
    return f"tcp://{source}:0;{BROKER_HOST}:{port}"


def pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(frame: bytes) -> dict[str, Any]:
    """A broker frame as a map; anything else (it never should be) as an empty one."""
    try:
        msg = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException):
        return {}
    return msg if isinstance(msg, dict) else {}


def fresh_name(prefix: str) -> str:
    """A user name no one else in this run has (``prefix`` ≤ 16 characters)."""
    return f"{prefix}{time.time_ns() % 10**9:09d}{next(_names) % 10**6}"[:32]


def dealer(context: zmq.Context[Any], source: str, port: int, **options: int) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    for name, value in options.items():
        sock.setsockopt(getattr(zmq, name), value)
    sock.connect(endpoint(source, port))
    return sock


def request(sock: zmq.Socket[Any], msg: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """Send ``msg`` and wait for the reply with its ``ref`` (other frames, e.g. a
    ``pm``, are skipped); None when none came in ``timeout`` seconds."""
    ref = msg.setdefault("ref", next(_names))
    sock.send(pack(msg))
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not sock.poll(int(left * 1000) + 1):
            break
        reply = unpack(sock.recv())
        if reply.get("ref") == ref:
            return reply
    return None


def register(
    sock: zmq.Socket[Any], user: str, rooms: list[str], timeout: float = 5.0
) -> dict[str, Any] | None:
    """The reply to a ``register`` (a ``welcome`` or an error), None when none came."""
    return request(sock, {"type": "register", "user": user, "proto": 1, "rooms": rooms}, timeout)
