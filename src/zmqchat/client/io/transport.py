"""Socket set-up shared by the client drivers: endpoints, options, link monitoring."""

from __future__ import annotations

from typing import Final

import zmq
from zmq.utils.monitor import parse_monitor_message

from zmqchat.common.protocol import DEFAULT_HOST, DEFAULT_PORT
from zmqchat.errors import UsageError

DEFAULT_ENDPOINT: Final = f"tcp://{DEFAULT_HOST}:{DEFAULT_PORT}"
# Replies such as a long `users` list may exceed the 64 KiB request limit; this only
# guards against a broken peer.
MAX_REPLY_BYTES: Final = 16 * 1024 * 1024
# Requests a program may have in flight before sends wait for room.
SEND_HWM: Final = 100_000
# Events buffered in the SUB socket before ZeroMQ drops (the gap is then refilled
# from history).
RECV_HWM: Final = 100_000
LINK_EVENTS: Final = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED


def check_endpoint(endpoint: str) -> str:
    """Validate a ``tcp://host:port`` endpoint and return it; a :class:`UsageError`
    (also a ``ValueError``) when it is none."""
    if not endpoint.startswith("tcp://") or ":" not in endpoint[6:]:
        raise UsageError(f"endpoint must look like tcp://HOST:PORT, not {endpoint!r}")
    port = endpoint.rsplit(":", 1)[1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"endpoint {endpoint!r} has no valid port")
    return endpoint


def pub_endpoint(endpoint: str, pub_port: int) -> str:
    """The broker's PUB endpoint: the host used for the ROUTER with ``pub_port``."""
    return f"{endpoint.rsplit(':', 1)[0]}:{pub_port}"


def configure_dealer(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, SEND_HWM)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)


def configure_sub(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, RECV_HWM)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)


def link_change(frames: list[bytes]) -> bool | None:
    """Interpret a monitor message: True link up, False link down, None other."""
    event = parse_monitor_message(frames)["event"]
    if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        return True
    if event == zmq.EVENT_DISCONNECTED:
        return False
    return None
