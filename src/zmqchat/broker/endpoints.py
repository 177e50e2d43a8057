"""The broker's sockets as the outside sees them: bound with their options, the
ready file that says where they are, and the process's own limits.

:mod:`.server` runs the loop over what :func:`bind_sockets` returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast

import zmq

from zmqchat.broker.curve import Curve
from zmqchat.broker.grants import configure_xpub
from zmqchat.broker.peers import ConnectionWatch, Router, seed_routing_ids
from zmqchat.common.config import BrokerConfig
from zmqchat.common.protocol import MAX_FRAME_BYTES
from zmqchat.errors import BindError

log = logging.getLogger("zmqchat.broker")

# Requests (and subscription requests) queued per peer before ZeroMQ stops reading
# its connection: the loop reads them as fast as it handles them.
RECEIVE_HWM: Final = 1000
LISTEN_BACKLOG: Final = 4096
LINGER_MS: Final = 1000


@dataclasses.dataclass(slots=True)
class Bound:
    router: Router
    pub: zmq.Socket[bytes]
    watch: ConnectionWatch
    pub_watch: ConnectionWatch
    port: int
    pub_port: int


def raise_fd_limit() -> int:
    """Raise the soft open-file limit to the hard one: each client costs two."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _bind(sock: zmq.Socket[bytes], host: str, port: int) -> int:
    endpoint = f"tcp://{host}:{port or '*'}"
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        hint = " (is another broker running?)" if exc.errno == errno.EADDRINUSE else ""
        raise BindError(f"cannot bind {endpoint}: {exc.strerror}{hint}") from None
    last = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    return int(last.rsplit(":", 1)[1])


def bind_sockets(
    ctx: zmq.Context[zmq.Socket[bytes]],
    config: BrokerConfig,
    nudge: Callable[[], None],
    curve: Curve | None = None,
) -> Bound:
    """Create and bind the ROUTER and the PUB side (an XPUB that grants each
    subscription, broker/grants.py); with port 0 the OS picks a free port. ``nudge``
    wakes the loop (the connection watches' threads call it); with ``curve`` both
    sockets are CURVE servers."""
    # Routing ids are transport addresses, never proof (docs/security.md): they
    # start where nobody can guess, and a session is bound to its connection.
    if not seed_routing_ids():
        log.warning("could not seed libc's rand(): routing ids are predictable")
    router = cast(Router, ctx.socket(zmq.ROUTER, socket_class=Router))
    router.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    # Sending to a peer that is gone or over its HWM raises instead of silently
    # dropping, so the loop can log it; sends use NOBLOCK to never stall.
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    # A peer that presents an id in use is ignored, never handed the id.
    router.setsockopt(zmq.ROUTER_HANDOVER, 0)
    watch = ConnectionWatch(ctx, router, nudge)
    pub = ctx.socket(zmq.XPUB)
    configure_xpub(pub)
    pub_watch = ConnectionWatch(ctx, pub, nudge)
    # What one peer that does not read can make the broker hold: config.reply_hwm
    # replies (then the server closes its connection) or config.pub_hwm events (then
    # the newest are dropped for it alone), each at most a frame (64 KiB).
    router.setsockopt(zmq.SNDHWM, config.reply_hwm)
    pub.setsockopt(zmq.SNDHWM, config.pub_hwm)
    for sock in (router, pub):
        sock.setsockopt(zmq.LINGER, LINGER_MS)
        sock.setsockopt(zmq.RCVHWM, RECEIVE_HWM)
        sock.setsockopt(zmq.BACKLOG, LISTEN_BACKLOG)
        if curve is not None:
            curve.secure(sock)
    try:
        port = _bind(router, config.host, config.port)
        pub_port = _bind(pub, config.host, config.pub_port)
    except BindError:
        watch.close()
        pub_watch.close()
        router.close(0)
        pub.close(0)
        raise
    return Bound(router, pub, watch, pub_watch, port, pub_port)


# Bind addresses that name no one host: a client can't be told to connect there.
WILDCARDS: Final = frozenset({"0.0.0.0", "*", "::", "[::]", ""})


def advertised(config: BrokerConfig, port: int) -> str | None:
    """The ROUTER endpoint a node of a shared engine names to clients in its
    welcomes: ``node_endpoint``, else the bound host and ``port``; None (with a log
    line saying why) when the host is a wildcard and no ``node_endpoint`` is set."""
    if config.node_endpoint is not None:
        return config.node_endpoint
    if config.host in WILDCARDS:
        log.warning(
            "this node listens on %r, which names no host: it is not in the nodes "
            "clients are told of; set node_endpoint to the address they should use",
            config.host,
        )
        return None
    return f"tcp://{config.host}:{port}"


def write_ready_file(
    path: str, host: str, port: int, pub_port: int, db: str, public_key: str | None = None
) -> None:
    """Say where the broker listens, for whoever started it (written atomically)."""
    if host in ("0.0.0.0", "*"):
        host = "127.0.0.1"
    info = {
        "endpoint": f"tcp://{host}:{port}",
        "pub_endpoint": f"tcp://{host}:{pub_port}",
        "host": host,
        "port": port,
        "pub_port": pub_port,
        "pid": os.getpid(),
        "db": db,
        "public_key": public_key,
    }
    ready = Path(path)
    tmp = ready.with_name(ready.name + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(ready)  # readers never see a half-written file


def with_address(body: zmq.Frame, curve: bool) -> tuple[bytes, str | None, str | None]:
    """A frame's bytes, the address of the peer that sent it (its IP over TCP) and,
    with ``curve``, the client's public key (Z85) that ZAP accepted for it."""
    try:
        peer = body.get("Peer-Address")
    except zmq.ZMQError:  # a transport without addresses (inproc)
        peer = None
    key = None
    if curve:
        with contextlib.suppress(zmq.ZMQError):
            key = body.get("User-Id")
    return body.bytes, None if peer is None else str(peer), None if key is None else str(key)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
