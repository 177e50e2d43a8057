"""The broker's loop over its sockets (bound by :mod:`.endpoints`).

One thread owns the ROUTER (requests and replies) and the PUB (room events). Each turn
of the loop drains a batch of requests (up to 64, or 2 ms of handling; libzmq reads the
peers' queues in turn), lets :class:`BrokerCore` handle them (a private message goes on
to its recipient as soon as it is handled), commits the store once, then sends every
reply, ack and publish of the batch. The poll timeout is
the next deadline (session expiry, parent-process check).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import zmq

from zmqchat._version import __version__
from zmqchat.broker.budgets import Budgets

if TYPE_CHECKING:
    from zmqchat.broker.cluster.node import ClusterNode
from zmqchat.broker.checkpoints import FALLBACK_PAGES, KEPT_BYTES, Checkpointer
from zmqchat.broker.commits import Commits
from zmqchat.broker.curve import Curve, start_curve
from zmqchat.broker.drain import drain
from zmqchat.broker.endpoints import (
    advertised,
    alive,
    bind_sockets,
    raise_fd_limit,
    write_ready_file,
)
from zmqchat.broker.flush import Flush
from zmqchat.broker.grants import Gate
from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.lock import lock_store
from zmqchat.broker.peers import ConnectionWatch, Router
from zmqchat.broker.replies import Replies
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig

# Raised here, defined in the error tree; still importable from here.
from zmqchat.errors import BindError as BindError  # noqa: PLC0414
from zmqchat.errors import ConfigError

log = logging.getLogger("zmqchat.broker")

_POLLIN: Final = int(zmq.POLLIN)
# How often to check that --parent-pid is alive.
PARENT_CHECK: Final = 0.5


class BrokerServer:
    """Run a broker: ``BrokerServer(config).run()`` blocks until :meth:`stop`."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        ready_file: str | None = None,
        parent_pid: int | None = None,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.config = config
        self.cluster: ClusterNode | None = None
        self.ready_file = ready_file
        self.parent_pid = parent_pid
        self._ctx = context or zmq.Context.instance()
        # stop() may be called from a signal handler or another thread: a byte on a
        # socketpair wakes the poll, which no ZeroMQ socket could do thread-safely.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Password checks finish on worker threads: each writes a byte here, and the
        # loop answers their registers (BrokerCore.finish_logins).
        self._logins_r, self._logins_w = socket.socketpair()
        self._logins_r.setblocking(False)
        self._logins_w.setblocking(False)
        self._stopping = False
        self._replies: Replies | None = None
        self._budgets: Budgets | None = None
        self.router: Router | None = None
        self.pub: zmq.Socket[bytes] | None = None
        self._watch: ConnectionWatch | None = None
        self._pub_watch: ConnectionWatch | None = None
        self._gate: Gate | None = None
        self.port = config.port
        self.pub_port = config.pub_port
        self.curve: Curve | None = None

    # ---------------------------------------------------------------------- set-up

    def bind(self) -> None:
        """Create and bind both sockets; with port 0 the OS picks a free port."""
        self.curve = self.curve or start_curve(self._ctx, self.config)
        try:
            bound = bind_sockets(self._ctx, self.config, self._nudge, self.curve)
        except BindError:
            self._stop_curve()
            raise
        self.router, self.pub, self._watch = bound.router, bound.pub, bound.watch
        self._pub_watch = bound.pub_watch
        self.port, self.pub_port = bound.port, bound.pub_port

    @property
    def public_key(self) -> str | None:
        """The broker's CURVE public key (Z85) once bound, if encrypted."""
        return None if self.curve is None else self.curve.public.decode("ascii")

    def _stop_curve(self) -> None:
        if self.curve is not None:
            self.curve.close()
            self.curve = None

    # ------------------------------------------------------------------------ loop

    def stop(self) -> None:
        """Ask the loop to shut down; safe from signal handlers and other threads."""
        self._stopping = True
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\x00")

    def _nudge(self) -> None:
        """Wake the loop for a turn (the connection watch's thread calls it)."""
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\x00")

    def run(self) -> int:
        """Serve until stopped; returns the process exit code."""
        fd_limit = raise_fd_limit()
        if self.router is None:
            self.bind()
        assert self.router is not None
        assert self.pub is not None
        lock = lock_store(self.config.db_path)
        store = Store(self.config.db_path, fsync=self.config.fsync)
        checkpointer = self._checkpointer(store)
        core = self._core(store)
        self.router.track(core.state.by_rid)
        assert self._pub_watch is not None
        assert self._watch is not None
        self._replies = Replies(self.router, self.port, self._watch, self.config.reply_hwm)
        self._gate = Gate(
            self.pub,
            self._pub_watch,
            core.state,
            valid=core.logins.may_resume,
            open_auth=self.config.auth == "open",
            curve=self.curve is not None,
            pub_port=self.pub_port,
            max_grants=self.config.max_subscriptions,
        )
        total, per_address = self.config.connection_budget
        self._budgets = Budgets(
            per_address=per_address,
            total=total,
            deadline=self.config.connect_deadline,
            in_use=lambda port, fd: (
                _has_session(core, fd)
                if port == self.port
                else self._gate is not None and self._gate.holds(fd)
            ),
        )
        self._budgets.watch(self._watch, self.port)
        self._budgets.watch(self._pub_watch, self.pub_port)
        self._pub_watch = None  # the gate closes it
        restored = core.restore(time.monotonic())
        store.commit()
        if threading.current_thread() is threading.main_thread():
            # What exists by now (modules, config, restored sessions) lives as long as
            # the broker: out of the collector's sight, a full collection no longer
            # walks it (13 ms for the modules alone, in the middle of a turn; gen 2
            # ran every few seconds under make attack's fuzz row). A broker run on
            # another thread leaves its host process's collector alone.
            gc.freeze()
        log.info(
            "zmqchat %s serving tcp://%s:%d (pub %d), store %s, %d session(s) restored, "
            "up to %d sessions (open-file limit %d), auth %s%s%s",
            __version__,
            self.config.host,
            self.port,
            self.pub_port,
            store.path,
            restored,
            core.capacity,
            fd_limit,
            self.config.auth,
            ", CURVE encrypted" if self.curve is not None else "",
            "" if self.cluster is None else _node_words(self.cluster),
        )
        if self.ready_file is not None:
            host = self.config.host
            write_ready_file(
                self.ready_file, host, self.port, self.pub_port, store.path, self.public_key
            )
        wakeup = self._route_signals_to_wake()
        try:
            assert self._replies is not None
            flush = Flush(Commits(store), self.pub, self._replies, self._gate)
            self._loop(core, flush)
            core.shutdown()
            flush.flush(core)
            log.info("stopped")
        finally:
            core.close()
            if self.cluster is not None:
                self.cluster.close()
            if checkpointer is not None:
                checkpointer.close()
            if wakeup is not None:
                signal.set_wakeup_fd(wakeup)
            store.close()
            if lock is not None:
                lock.release()
            self._closed()
        return 0

    def _closed(self) -> None:
        """The sockets closed, and the ready file gone."""
        self.close()
        if self.ready_file:
            with contextlib.suppress(OSError):
                Path(self.ready_file).unlink()

    def _core(self, store: Store) -> BrokerCore:
        """The broker's core on ``store``, with the Redis engine if asked for."""
        config = self.config
        if config.engine == "redis":
            assert config.engine_url is not None  # config_checks
            try:
                from zmqchat.broker.cluster.node import ClusterNode  # noqa: PLC0415
            except ImportError:  # redis is an optional dependency
                raise ConfigError(
                    "engine = \"redis\" needs the redis package: pip install 'zmqchat[redis]'"
                ) from None
            node = config.node_name or f"{config.host}:{self.port}"
            endpoint = advertised(config, self.port)
            self.cluster = ClusterNode(
                config.engine_url, node, config.node_lease, endpoint, config.records_kept
            )
        return BrokerCore(
            self.config,
            store,
            pub_port=self.pub_port,
            notify=self._login_done,
            connections=self._watch,
            engine=None if self.cluster is None else self.cluster.engine,
            names=None if self.cluster is None else self.cluster.names,
            records=None if self.cluster is None else self.cluster.records,
            access=None if self.cluster is None else self.cluster.access,
        )

    def _checkpointer(self, store: Store) -> Checkpointer | None:
        """Checkpoints on a thread of their own (broker/checkpoints.py)."""
        if store.path == ":memory:":
            return None
        store.checkpoint_elsewhere(FALLBACK_PAGES, KEPT_BYTES)
        return Checkpointer(store.path, fsync=self.config.fsync)

    def _login_done(self) -> None:
        """A password check finished (called on a worker thread): wake the loop."""
        with contextlib.suppress(BlockingIOError, OSError):  # full: a wake-up is pending
            self._logins_w.send(b"\x00")

    def _route_signals_to_wake(self) -> int | None:
        """Have any signal write a byte to the wake-up pair; returns the previous fd.

        The kernel may deliver SIGTERM to one of libzmq's I/O threads. CPython then only
        notes it, and its handler runs once the main thread executes Python again:
        with the main thread parked in a poll without a deadline (no session left),
        that is never. The wake-up fd is written by the C-level handler on whichever
        thread the signal lands, so the poll returns and the handler runs at once.
        """
        if threading.current_thread() is not threading.main_thread():
            return None  # only the main thread gets Python signal handlers anyway
        return signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)

    def _loop(self, core: BrokerCore, flush: Flush) -> None:
        commits = flush.commits
        store = commits.store
        router, pub, gate = self.router, self.pub, self._gate
        watch, budgets = self._watch, self._budgets
        assert router is not None
        assert pub is not None
        assert gate is not None
        assert watch is not None
        assert budgets is not None
        cluster, events = self.cluster, core.events
        wake_fd, logins_fd = self._wake_r.fileno(), self._logins_r.fileno()
        # zmq_poll's own items, without zmq.Poller's wrapper: the loop polls once a
        # turn, and a pm conversation's turns hold one request each.
        items: list[tuple[zmq.Socket[bytes] | int, int]] = [
            (router, _POLLIN),
            (pub, _POLLIN),
            (wake_fd, _POLLIN),
            (logins_fd, _POLLIN),
        ]
        if cluster is not None:
            items.append((cluster.wake_fd, _POLLIN))
        poll = zmq.zmq_poll
        next_parent_check = time.monotonic() + PARENT_CHECK
        while not self._stopping:
            now = time.monotonic()
            deadline = _earliest(
                core.next_deadline(),
                flush.commit_due,
                commits.next_probe,
                budgets.next_deadline(),
                next_parent_check if self.parent_pid is not None else None,
            )
            timeout = -1 if deadline is None else max(0, int((deadline - now) * 1000) + 1)
            ready: dict[Any, int] = dict(poll(items, timeout))
            if wake_fd in ready:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
                watch.poll()  # connections accepted and ended, for the budgets
                gate.serve()  # also learns of subscribers' connections that ended
            elif pub in ready:
                gate.serve()
            if router in ready:
                drain(core, router, flush, curve=self.curve is not None)
            if logins_fd in ready:
                with contextlib.suppress(BlockingIOError):
                    self._logins_r.recv(4096)
                core.finish_logins(time.monotonic())
            if cluster is not None and cluster.wake_fd in ready:
                cluster.turn()
                core.node_messages()
            now = time.monotonic()
            core.expire(now)
            budgets.expire(now)
            if core.out or store.dirty or flush.answers or events.pending:
                flush.flush(core, now)
            probe = commits.next_probe
            if probe is not None and now >= probe and commits.probe(now):
                core.store_recovered()
            if self.parent_pid is not None and now >= next_parent_check:
                next_parent_check = now + PARENT_CHECK
                if not alive(self.parent_pid):
                    log.info("parent process %d is gone; stopping", self.parent_pid)
                    self._stopping = True

    def close(self) -> None:
        for watch in (self._watch, self._pub_watch):
            if watch is not None:
                watch.close()
        self._watch = self._pub_watch = None
        if self._gate is not None:
            self._gate.close()
            self._gate = None
        for sock in (self.router, self.pub):
            if sock is not None:
                sock.close()
        self.router = self.pub = None
        self._stop_curve()
        self._wake_r.close()
        self._wake_w.close()
        self._logins_r.close()
        self._logins_w.close()


def _earliest(*times: float | None) -> float | None:
    """The earliest of ``times`` that are not None (None if none is)."""
    first = None
    for t in times:
        if t is not None and (first is None or t < first):
            first = t
    return first


def _node_words(cluster: ClusterNode) -> str:
    endpoint = cluster.lease.endpoint
    advertised = f" advertised as {endpoint}" if endpoint else ", advertised to no client"
    return f", node {cluster.name} of a Redis engine{advertised}"


def _has_session(core: BrokerCore, conn: int) -> bool:
    """Whether connection ``conn`` has a session, or a login under way."""
    if conn in core.state.by_conn:
        return True
    return any(getattr(rid, "conn", None) == conn for rid in core.logins.pending)
