"""The socket side of a client, shared by the thread and asyncio flavours.

:class:`SocketDriver` owns the DEALER (with a monitor of its link), the SUB and a
wake-up socketpair, feeds what they receive to a
:class:`~zmqchat.client.core.connection.ClientCore`, and carries out what the core asks
for. It never waits: ``Client`` waits with ``zmq.Poller`` on its I/O thread,
``AsyncClient`` awaits ``zmq.asyncio.Poller`` on the event loop, on the same
sockets. So there is one copy of the message handling (the core) and one of the
socket handling (this module).
"""

from __future__ import annotations

import collections
import contextlib
import socket
from collections.abc import Callable
from typing import Any, Final, Protocol

import zmq

from zmqchat.client.core.connection import ClientCore
from zmqchat.client.io.transport import (
    LINK_EVENTS,
    configure_dealer,
    configure_sub,
    link_change,
    pub_endpoint,
)
from zmqchat.client.io.trust import CurveKeys

# Frames read per socket per loop turn, so one busy socket can't starve the others.
BATCH: Final = 256


class Poller(Protocol):
    """What the driver needs of ``zmq.Poller`` and ``zmq.asyncio.Poller``."""

    def register(self, socket: Any, flags: int = ...) -> None: ...

    def unregister(self, socket: Any) -> None: ...


class SocketDriver:
    """Non-blocking socket work around a :class:`ClientCore`."""

    def __init__(
        self,
        core: ClientCore,
        context: zmq.Context[Any],
        poller: Poller,
        deliver: Callable[[Any], None],
        curve: Callable[[str], CurveKeys | None] = lambda endpoint: None,
    ) -> None:
        """``curve(endpoint)``: the CURVE keys for the node at ``endpoint`` (None:
        plaintext)."""
        self.core = core
        self.curve = curve
        self.endpoint = core.endpoint  # where the DEALER connects: the core says
        self.poller = poller
        self._ctx = context
        self._deliver = deliver
        self._dealer: zmq.Socket[bytes] | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        self._sub: zmq.Socket[bytes] | None = None
        self._backlog: collections.deque[bytes] = collections.deque()
        self._polling_out = False
        self.rooms: tuple[str, ...] = ()
        # A byte on this pair interrupts a wait, from any thread.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.woken = False
        self.closed = False  # True once every socket and the wake-up pair are closed

    # ------------------------------------------------------------------- waking

    def wake(self) -> None:
        """Interrupt the current wait (safe from any thread)."""
        if not self.woken:
            self.woken = True
            with contextlib.suppress(BlockingIOError, OSError):
                self._wake_w.send(b"\x00")

    def timeout_ms(self, now: float) -> int | None:
        """How long the next wait may last: until the core's next deadline."""
        wait = self.core.next_deadline() - now
        return None if wait == float("inf") else max(0, int(wait * 1000) + 1)

    # ------------------------------------------------------------------ running

    def start(self, now: float) -> None:
        self.poller.register(self._wake_r.fileno(), zmq.POLLIN)
        self._open_dealer()
        self.core.start(now)
        self.apply()

    def on_ready(self, ready: dict[Any, int], now: float) -> None:
        """Read what the sockets a wait returned have for the core."""
        core = self.core
        if self._wake_r.fileno() in ready:
            # Drain, then clear: the other way round, a wake() landing in between
            # would leave `woken` set with no byte in the pipe, and every later
            # wake() would be skipped until the next deadline.
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(4096)
            self.woken = False
        dealer, sub, monitor = self._dealer, self._sub, self._monitor
        if dealer is not None and ready.get(dealer, 0) & zmq.POLLIN:
            for _ in range(BATCH):
                try:
                    frame = dealer.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                core.on_frame(frame, now)
                if self._leaving():
                    return
        if sub is not None and sub in ready:
            for _ in range(BATCH):
                try:
                    parts = sub.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(parts) == 2:
                    core.on_publish(parts[0], parts[1], now)
        if monitor is not None and monitor in ready:
            while True:
                try:
                    change = link_change(monitor.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
                if change == "retry":
                    core.on_connect_retried(now)
                elif change is not None:
                    core.on_link(change == "up", now)
                if self._leaving():
                    return

    def _leaving(self) -> bool:
        """Whether the core asked for a fresh DEALER: what the sockets still hold is
        from the connection it is leaving (perhaps a node it has given up on)."""
        return any(action == "reset" for action, _ in self.core.actions)

    def apply(self) -> None:
        """Carry out what the core asked for, then hand its events over."""
        core = self.core
        for action, arg in core.actions:
            if action == "endpoint":
                self.endpoint = arg
            elif action == "reset":
                self._backlog.clear()
                self._open_dealer()
            elif action == "sub_connect":
                self._open_sub(arg)
            elif action == "subscribe" and self._sub is not None:
                self._sub.send(b"\x01" + arg)
            elif action == "unsubscribe" and self._sub is not None:
                self._sub.send(b"\x00" + arg)
        core.actions.clear()
        if core.outgoing:
            self._backlog.extend(core.outgoing)
            core.outgoing.clear()
        dealer = self._dealer
        if dealer is not None:
            while self._backlog:
                try:
                    dealer.send(self._backlog[0], zmq.NOBLOCK)
                except zmq.Again:
                    break  # the queue to the broker is full; retry when writable
                self._backlog.popleft()
            want_out = bool(self._backlog)
            if want_out != self._polling_out:
                self._polling_out = want_out
                self.poller.register(dealer, zmq.POLLIN | (zmq.POLLOUT if want_out else 0))
        for event in core.events:
            self._deliver(event)
        core.events.clear()
        self.rooms = core.rooms

    def fail(self, exc: Exception) -> None:
        """The loop broke on ``exc``: end the core and hand over its last events."""
        self.end(f"the client failed: {exc}")

    def end(self, reason: str) -> None:
        """No more turns will run: close the core if it is not yet (failing what is
        pending) and hand over its last events."""
        if self.core.state != "closed":
            self.core.abort(reason)
        for event in self.core.events:
            self._deliver(event)
        self.core.events.clear()

    def close(self) -> None:
        """Close every socket (the core's state is left as it is)."""
        self._close_dealer()
        if self._sub is not None:
            self.poller.unregister(self._sub)
            self._sub.close(0)
            self._sub = None
        if not self.closed:
            self.closed = True
            with contextlib.suppress(KeyError):
                self.poller.unregister(self._wake_r.fileno())
            self._wake_r.close()
            self._wake_w.close()

    # ------------------------------------------------------------------ sockets

    def _open_dealer(self) -> None:
        self._close_dealer()
        dealer = self._ctx.socket(zmq.DEALER)
        # Owned from the start, so close() releases them even if connect() fails
        # (libzmq refuses some hosts only here).
        self._dealer = dealer
        configure_dealer(dealer)
        keys = self.curve(self.endpoint)
        if keys is not None:
            keys.secure(dealer)
        self._monitor = dealer.get_monitor_socket(LINK_EVENTS)
        dealer.connect(self.endpoint)
        self._polling_out = False
        self.poller.register(dealer, zmq.POLLIN)
        self.poller.register(self._monitor, zmq.POLLIN)

    def _close_dealer(self) -> None:
        if self._dealer is not None:
            with contextlib.suppress(KeyError):  # not registered if connect() failed
                self.poller.unregister(self._dealer)
            with contextlib.suppress(zmq.ZMQError):
                self._dealer.disable_monitor()
            self._dealer.close(0)
            self._dealer = None
        if self._monitor is not None:
            with contextlib.suppress(KeyError):
                self.poller.unregister(self._monitor)
            self._monitor.close(0)
            self._monitor = None

    def _open_sub(self, port: int) -> None:
        if self._sub is not None:
            self.poller.unregister(self._sub)
            self._sub.close(0)
        # An XSUB: its requests carry a ticket after the topic (which a SUB would
        # also apply as its own filter, and so drop every event).
        sub = self._ctx.socket(zmq.XSUB)
        configure_sub(sub)
        keys = self.curve(self.endpoint)
        if keys is not None:
            keys.secure(sub)
        sub.connect(pub_endpoint(self.endpoint, port))
        self._sub = sub
        self.poller.register(sub, zmq.POLLIN)
