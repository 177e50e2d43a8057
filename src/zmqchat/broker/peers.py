"""Who is at the other end of a routing id: unguessable ids, and each one's connection.

libzmq 4.3.5 names a ROUTER peer that sets no routing id of its own ``00`` followed
by a 32-bit counter, and the counter starts at glibc's ``rand()``, which nothing
seeds: the first peer of every broker is ``00 6b 8b 45 67``, the next ``…68``. A peer
may also choose its own id (``ZMQ_ROUTING_ID``). What this module does about that
(docs/security.md, "Routing ids"):

* A peer holding the id the counter hands out next makes libzmq abort the process
  when the next anonymous peer arrives (``routing_socket_base_t::add_out_pipe``
  asserts the id is free); no socket option refuses or renumbers a peer's own id.
  :func:`seed_routing_ids` makes the counter start where nobody can predict. That is
  the only guard there is against this one.
* A peer that takes the id of a connection that has closed would inherit what the
  broker bound to that id. So a session is bound to its TCP connection:
  :class:`Router` tells which connection (file descriptor) a message from an id
  without a session came on, and :class:`ConnectionWatch` reports every connection
  that closed, from the ROUTER's socket monitor.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import secrets
import select
import socket
import struct
import threading
from collections.abc import Callable, Container
from typing import Any, Final

import zmq

log = logging.getLogger("zmqchat.broker")

_RCVMORE: Final = int(zmq.RCVMORE)
_SRCFD: Final = int(zmq.SRCFD)
_NOBLOCK: Final = int(zmq.NOBLOCK)
_ACCEPTED: Final = int(zmq.EVENT_ACCEPTED)
_DISCONNECTED: Final = int(zmq.EVENT_DISCONNECTED)
_EVENT: Final = struct.Struct("=HI")  # monitor events, version 1: event id, value (the fd)
# After waking the loop for monitor events, give it this long to read them before
# looking again: it bounds both the wake-ups and what piles up in between.
WAKE_PAUSE: Final = 0.1


def seed_routing_ids() -> bool:
    """Seed libc's ``rand()`` from the OS's random source, so that a ROUTER created
    after this call numbers its peers from an unpredictable start. False if libc's
    ``srand`` could not be reached (the ids then stay predictable)."""
    try:
        srand = ctypes.CDLL(None).srand
    except (OSError, AttributeError, TypeError):
        return False
    srand.argtypes = [ctypes.c_uint]
    srand.restype = None
    srand(secrets.randbits(32))
    return True


def shut_down(fd: int, port: int) -> bool:
    """End the TCP connection on ``fd`` (libzmq's: it sees the end and closes the
    descriptor itself), if ``fd`` is a TCP socket whose local port is ``port``, the
    listening port it was accepted on: a descriptor libzmq closed and gave to
    something else is left alone. True if it was shut down."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return False
    try:
        if sock.type != socket.SOCK_STREAM or sock.getsockname()[1] != port:
            return False
        sock.shutdown(socket.SHUT_RDWR)
        return True
    except (OSError, IndexError, TypeError):
        return False
    finally:
        sock.detach()  # libzmq owns the descriptor


class Rid(bytes):
    """A routing id, with the connection (file descriptor) its message came on."""

    conn: int | None = None


class _Reading:
    """Where :meth:`Router.recv` is in a message. A plain object: setting attributes
    on a zmq socket goes through pyzmq's option lookup, far too slow per frame."""

    __slots__ = ("body", "tagging")

    def __init__(self) -> None:
        self.body = False  # True when the next frame belongs to the current message
        self.tagging: Rid | None = None  # the id whose next frame tells its connection


# pyzmq's Socket.send (zmq.sugar) looks for Frames, copy thresholds and routing ids
# before it calls the Cython send. The broker sends only bytes with int flags, two
# to four frames a chat, and that sugar took 0.7 us of each send's 1.2.
raw_send: Callable[[zmq.Socket[bytes], bytes, int], None] = zmq.backend.Socket.send


class Router(zmq.Socket[bytes]):
    """A ROUTER whose routing id frames say which connection they came on, for every
    id not in ``known`` (the ids that have a session: their frames cost next to
    nothing more).

    Frames are received exactly as from a plain socket; only the routing id frame of
    a message from an unknown id comes back as a :class:`Rid`. Its connection is read
    from the message's first body frame (libzmq's ``SRCFD`` property), so it is set
    once the caller has received that frame: receive a whole message before handling
    it, as the server's loop does. Where a message ends is learnt the way any caller
    learns it, from ``RCVMORE`` (or a frame's ``more``), never at extra cost: one
    ``getsockopt`` costs about as much as the whole rest of a frame's reception.
    """

    _reading: _Reading | None = None
    _known: Container[bytes] = frozenset()

    def track(self, known: Container[bytes]) -> None:
        """Tag only the ids not in ``known`` (a live view, e.g. the sessions' dict)."""
        self._known = known

    def _state(self) -> _Reading:
        reading = self._reading
        if reading is None:
            reading = self._reading = _Reading()
        return reading

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        reading = self._reading or self._state()
        base = zmq.Socket.recv
        if not reading.body:
            rid: bytes = base(self, flags)
            reading.body = True
            if rid in self._known:
                return rid
            tagged = reading.tagging = Rid(rid)
            return tagged
        pending = reading.tagging
        if pending is not None:
            reading.tagging = None
            frame = base(self, flags, copy=False)
            fd = frame.get(_SRCFD)
            pending.conn = fd if fd >= 0 else None
            reading.body = frame.more
            return frame.bytes if copy else frame
        data = base(self, flags, copy, track)
        # The message ends here unless the caller learns otherwise: see get().
        reading.body = False if copy else bool(getattr(data, "more", False))
        return data

    def get(self, option: int) -> Any:
        value = zmq.Socket.get(self, option)
        if option == _RCVMORE and value:
            (self._reading or self._state()).body = True
        return value

    getsockopt = get


class ConnectionWatch:
    """The ROUTER's socket monitor: the connections that closed since last asked.

    A file descriptor is reported when its connection was dropped (``DISCONNECTED``)
    and also when it is handed to a new connection (``ACCEPTED``): either way, the
    connection it stood for before is over. Start it before the ROUTER binds, so no
    connection is missed.

    libzmq writes monitor events with a blocking send from its I/O thread: if they
    were not read, all I/O would stop. So the queue is unbounded, read by whoever
    calls :meth:`closed`, and a thread wakes the broker's loop (``wake``) when events
    wait and nothing else would have woken it.
    """

    def __init__(
        self,
        context: zmq.Context[Any],
        router: zmq.Socket[Any],
        wake: Callable[[], None],
    ) -> None:
        endpoint = f"inproc://zmqchat-monitor-{secrets.token_hex(8)}"
        router.monitor(endpoint, _ACCEPTED | _DISCONNECTED)
        pair = context.socket(zmq.PAIR)
        pair.setsockopt(zmq.RCVHWM, 0)  # before connecting: the pipe takes it then
        pair.setsockopt(zmq.LINGER, 0)
        pair.connect(endpoint)
        self._pair: zmq.Socket[bytes] = pair
        self._router = router
        self._open: dict[int, bool] = {}  # fd -> whether its last connection is open
        self._pending: list[int] = []  # read by poll(), not yet returned by closed()
        # Called with (accepted, fd) for every event, in order, as they are read.
        self.listeners: list[Callable[[bool, int], None]] = []
        self._wake = wake
        self._stop_r, self._stop_w = socket.socketpair()
        # The socket's ZMQ_FD turns readable when events arrive after it was read
        # to the end, which closed() always does. A look at it is cheap; asking
        # libzmq (a receive that fails) costs several microseconds each batch.
        signal_fd: int = pair.getsockopt(zmq.FD)
        self._signal = select.poll()
        self._signal.register(signal_fd, select.POLLIN)
        self._read()  # to the end once, so that the next event signals
        self._thread = threading.Thread(
            target=self._wake_on_events,
            args=(signal_fd,),
            name="zmqchat-monitor-wake",
            daemon=True,
        )
        self._thread.start()

    def _read(self) -> list[int]:
        fds: list[int] = []
        recv = self._pair.recv_multipart
        while True:
            try:
                parts = recv(_NOBLOCK)
            except zmq.Again:
                return fds
            except zmq.ZMQError as exc:  # closing down: nothing more to learn
                log.debug("connection monitor: %s", exc)
                return fds
            if len(parts) == 2 and len(parts[0]) == _EVENT.size:
                event, fd = _EVENT.unpack(parts[0])
                accepted = self._open[fd] = event == _ACCEPTED
                fds.append(fd)
                for listener in self.listeners:
                    listener(accepted, fd)

    def poll(self) -> None:
        """Read the events waiting (for the listeners), if any."""
        if self._signal.poll(0):
            self._pending.extend(self._read())

    def closed(self) -> list[int]:
        """File descriptors whose connection ended since the last call, oldest first."""
        if self._signal.poll(0):
            self._pending.extend(self._read())
        fds, self._pending = self._pending, []
        return fds

    def is_open(self, conn: int) -> bool:
        """False if the last event read for ``conn`` was its connection's end."""
        return self._open.get(conn, True)

    def closing(self, conn: int) -> None:
        """``conn`` is being closed: :meth:`is_open` says False from now on, until a
        new connection gets its descriptor."""
        self._open[conn] = False

    def _wake_on_events(self, fd: int) -> None:
        # The monitor socket's ZMQ_FD turns readable when events arrive; only the
        # loop's thread reads the socket itself (ZeroMQ sockets aren't thread-safe).
        stop = self._stop_r.fileno()
        events, stopped = select.poll(), select.poll()
        events.register(fd, select.POLLIN)
        events.register(stop, select.POLLIN)
        stopped.register(stop, select.POLLIN)
        pause = int(WAKE_PAUSE * 1000)
        try:
            while not any(ready == stop for ready, _ in events.poll()):
                self._wake()
                if stopped.poll(pause):
                    return
        except OSError:
            return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stop_w.send(b"\x00")
        self._thread.join(1.0)
        with contextlib.suppress(zmq.ZMQError):
            self._router.disable_monitor()
        self._pair.close(0)
        self._stop_r.close()
        self._stop_w.close()
