"""Socket set-up shared by the client drivers: endpoints, options, link monitoring."""

from __future__ import annotations

from typing import Final, Literal

import zmq
from zmq.utils.monitor import parse_monitor_message

# Endpoints are plain strings, checked in common (the settings check them too).
from zmqchat.common.endpoints import DEFAULT_ENDPOINT, check_endpoint, pub_endpoint

# Replies such as a long `users` list may exceed the 64 KiB request limit; this only
# guards against a broken peer.
MAX_REPLY_BYTES: Final = 16 * 1024 * 1024
# Requests a program may have in flight before sends wait for room.
SEND_HWM: Final = 100_000
# Events buffered in the SUB socket before ZeroMQ drops (the gap is then refilled
# from history).
RECV_HWM: Final = 100_000
# Link up (handshake done), link down, and a connect that failed and will be tried
# again (refused, or the reconnect after a link went down).
LINK_EVENTS: Final = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED
)


def configure_dealer(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, SEND_HWM)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)


def configure_sub(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, RECV_HWM)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)


def link_change(frames: list[bytes]) -> Literal["up", "down", "retry"] | None:
    """Interpret a monitor message: the link is ``up`` (handshake done) or ``down``,
    a connect failed and will be tried again (``retry``), or None: anything else."""
    event = parse_monitor_message(frames)["event"]
    if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        return "up"
    if event == zmq.EVENT_DISCONNECTED:
        return "down"
    if event == zmq.EVENT_CONNECT_RETRIED:
        return "retry"
    return None


__all__ = [
    "DEFAULT_ENDPOINT",
    "LINK_EVENTS",
    "check_endpoint",
    "configure_dealer",
    "configure_sub",
    "link_change",
    "pub_endpoint",
]
