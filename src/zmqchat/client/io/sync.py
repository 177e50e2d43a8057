"""``zmqchat.Client``: the synchronous client for programs, bots and tests.

An I/O thread owns the sockets (a DEALER for requests, a SUB for room events, and a
monitor of the DEALER's link) and runs :class:`~zmqchat.client.core.connection.ClientCore`.
Calls from any thread become commands on a queue, woken by a byte on a socketpair;
replies come back as futures, events through the bounded buffer under a condition.
Everything but the waiting is in :class:`~zmqchat.client.io.base.BaseClient`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import zmq

from zmqchat.client.core import requests
from zmqchat.client.core.events import Event, StatusEvent
from zmqchat.client.core.pump import REPORT_PERIOD, Pump
from zmqchat.client.core.requests import Call
from zmqchat.client.core.transfer import Transfer
from zmqchat.client.io.base import BaseClient
from zmqchat.client.io.methods import Blocking, settle
from zmqchat.common.messages import Record, Welcome
from zmqchat.common.threads import start_masked
from zmqchat.errors import ConnectionClosed, Timeout

_T = TypeVar("_T")


class Client(BaseClient[Blocking]):
    """A connection to a zmqchat broker as one user.

    ::

        with Client("alice", "tcp://127.0.0.1:5555") as chat:
            chat.send("general", "hello")
            for event in chat.events(timeout=5):
                print(event)

    Every request method blocks until the broker answers (see
    :class:`~zmqchat.client.io.base.BaseClient` for the options and errors). The
    ``on_event`` callback is called on a thread of its own, so it may make requests.
    """

    def _setup(self) -> zmq.Poller:
        self._poller = zmq.Poller()
        self._ready = threading.Condition()  # guards the event buffer
        self._commands: collections.deque[Callable[[float], object]] = collections.deque()
        self._settled: threading.Event = threading.Event()
        self._stopping = threading.Event()  # leave the loop now, without bye
        self._done: threading.Event = threading.Event()
        # Commands run on the I/O thread, or once it has finished on whichever
        # thread queues one: one at a time.
        self._queue_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        return self._poller

    # ------------------------------------------------------------------ lifecycle

    def connect(self, timeout: float | None = None) -> Welcome:
        """Register with the broker; returns its ``welcome``.

        Raises :class:`~zmqchat.errors.BrokerError` if the broker refuses the name,
        or :class:`~zmqchat.errors.Timeout` if it does not answer in time.
        """
        if self._thread is not None:
            raise RuntimeError("connect() was already called")
        # The I/O thread never takes SIGINT, SIGTERM or SIGHUP: they are the main
        # thread's, to end its wait (see zmqchat.common.threads). Kept before it
        # starts: a signal raised once it has started must still find it, for bye.
        self._thread = threading.Thread(target=self._run, name="zmqchat-io", daemon=True)
        start_masked(self._thread)
        wait = self.connect_timeout if timeout is None else timeout
        if not self._settled.wait(wait) or self._core.state == "closed":
            error = self._refusal(wait)
            self._stop()
            # A failed connect() is the end of this client (`with Client()` never
            # reaches __exit__): release the wake-up socketpair now.
            self._release()
            raise error
        if self._on_event is not None:
            # Started plainly: it runs the caller's callback, and a program that
            # callback runs would inherit blocked signals (zmqchat.common.threads).
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="zmqchat-events", daemon=True
            )
            self._dispatcher.start()
        assert self._core.welcome is not None
        return self._core.welcome

    def close(self, timeout: float = 2.0) -> None:
        """Say ``bye`` (freeing the name at once) and stop. Safe to call twice."""
        if self._thread is None or self._done.is_set():
            self._release()
            return
        self._call(self._core.close)
        if not self._done.wait(timeout + 1.0):
            self._stop()
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout)
        self._release()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------- requests

    def request(
        self, request: Record, timeout: float | None = None
    ) -> concurrent.futures.Future[Any]:
        """Send any request record; the future resolves to the reply record (or the
        error). For pipelined sending: submit many, then wait for the futures."""
        return self._start(requests.any_reply(request, timeout))

    def _start(self, call: Call[Any, _T]) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        done = functools.partial(settle, future, call)
        if self._thread is None or self._done.is_set():
            done(ConnectionClosed(self._core.close_reason or "not connected"))
        else:
            self._call(lambda now: self._core.submit(call.request, done, now, call.timeout))
        return future

    def _complete(self, call: Call[Any, _T]) -> _T:
        future = self._start(call)
        try:
            return future.result(self._reply_limit(call.timeout))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise Timeout("no reply from the broker within the time allowed") from None

    def _pump(self, transfer: Transfer[_T]) -> _T:
        """Run ``transfer`` on the I/O thread; wait here, handing over progress."""
        woken = threading.Event()
        pump = Pump(transfer, self._core.submit, woken.set)
        if self._thread is None or self._done.is_set():
            transfer.close()
            raise ConnectionClosed(self._core.close_reason or "not connected")
        self._call(pump.run)
        try:
            while not pump.ended:
                woken.wait(REPORT_PERIOD)
                woken.clear()
                pump.report()  # the caller's callback: it may raise, to stop
                if pump.cancelled():
                    self._call(pump.stop)
                elif pump.idle:  # waiting out a retry_after
                    self._call(pump.run)
        except BaseException:
            # Interrupted (Ctrl+C), or the callback raised: the I/O thread stops the
            # transfer and closes its file. What was acknowledged stays for a resume.
            self._call(pump.stop)
            raise
        pump.report()
        return transfer.result()

    # --------------------------------------------------------------------- events

    def next_event(self, timeout: float | None = None) -> Event:
        """The next event; raises :class:`Timeout` if none arrives in ``timeout`` s,
        :class:`ConnectionClosed` once the client is closed and drained."""
        self._check_reader()
        return self._next_event(timeout)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events as they arrive. Ends when the client is closed, or
        after ``timeout`` seconds without an event."""
        while True:
            try:
                yield self.next_event(timeout)
            except (Timeout, ConnectionClosed):
                return

    def _next_event(self, timeout: float | None) -> Event:
        with self._ready:
            if not self._ready.wait_for(lambda: self._events.ready, timeout):
                raise Timeout(f"no event within {timeout}s")
            return self._take_event()

    def _deliver(self, item: Event) -> None:
        with self._ready:
            self._events.put(item)
            self._ready.notify_all()

    def _dispatch(self) -> None:
        while True:
            try:
                event = self._next_event(None)
            except ConnectionClosed:
                return
            self._hand_over(event)

    # ------------------------------------------------------------- the I/O thread

    def _call(self, command: Callable[[float], object]) -> None:
        self._commands.append(command)
        self._driver.wake()
        if self._done.is_set():
            # The I/O thread ended while we queued: nobody else will run it. On a
            # closed core, a request fails at once with ConnectionClosed.
            self._run_queued(time.monotonic())

    def _stop(self) -> None:
        self._stopping.set()  # the loop checks it every turn
        self._call(lambda now: None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        driver = self._driver
        try:
            driver.start(time.monotonic())
            while not self._stopping.is_set():
                ready = dict(self._poller.poll(driver.timeout_ms(time.monotonic())))
                if self._turn(ready, time.monotonic()) == "closed" and not self._commands:
                    break
        except Exception as exc:
            self._fail(exc)
        finally:
            self._wind_up()

    def _run_queued(self, now: float) -> None:
        with self._queue_lock:
            while self._commands:
                self._commands.popleft()(now)

    def _end_events(self) -> None:
        with self._ready:
            self._events.end()
            self._ready.notify_all()

    def _release(self) -> None:
        """Close the sockets if the I/O thread never ran or has ended."""
        if self._thread is None or not self._thread.is_alive():
            self._driver.close()


__all__ = ["Client", "StatusEvent"]
