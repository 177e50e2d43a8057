"""``zmqchat.aio.AsyncClient``: the asyncio client.

The same :class:`~zmqchat.client.io.base.BaseClient` (options, properties, request
methods, event buffer) over the same :class:`~zmqchat.client.core.connection.ClientCore`
and :class:`~zmqchat.client.io.driver.SocketDriver` as the thread-based
:class:`zmqchat.Client`; only the waiting differs: a task on the event loop awaits
``zmq.asyncio.Poller`` instead of a thread blocking in ``zmq.Poller``. Nothing here
blocks the loop.

::

    async with AsyncClient("bot", "tcp://127.0.0.1:5555", rooms=["ci"]) as bot:
        await bot.send("ci", "build 42 passed", data={"build": 42, "ok": True})
        async for event in bot:
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, TypeVar

import zmq.asyncio

from zmqchat.client.core import requests
from zmqchat.client.core.events import Event
from zmqchat.client.core.pump import REPORT_PERIOD, Pump
from zmqchat.client.core.requests import Call
from zmqchat.client.core.transfer import Transfer
from zmqchat.client.io.base import BaseClient, log
from zmqchat.client.io.methods import Awaiting, settle
from zmqchat.common.messages import Record, Welcome
from zmqchat.errors import ConnectionClosed, Timeout

__all__ = ["AsyncClient"]

_T = TypeVar("_T")


class AsyncClient(BaseClient[Awaiting]):
    """A connection to a zmqchat broker as one user, for asyncio programs.

    Every request method is a coroutine (see
    :class:`~zmqchat.client.io.base.BaseClient` for the options and errors).
    Cancelling a task that awaits a reply leaves the client usable (the late reply
    is dropped). Events arrive through ``async for event in client``,
    :meth:`next_event`, or the ``on_event`` callback: a function, or a coroutine
    function whose calls are awaited one after the other, on a task of their own.
    """

    def _setup(self) -> zmq.asyncio.Poller:
        # Plain sockets, awaited through the asyncio poller: the driver's
        # non-blocking calls are then the same as in the thread-based client.
        self._poller = zmq.asyncio.Poller()
        self._ready = asyncio.Event()  # the event buffer may be ready
        self._task: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._settled: asyncio.Event = asyncio.Event()
        self._done: asyncio.Event = asyncio.Event()
        return self._poller

    # ------------------------------------------------------------------ lifecycle

    async def connect(self, timeout: float | None = None) -> Welcome:
        """Register with the broker; returns its ``welcome``.

        Raises :class:`~zmqchat.errors.BrokerError` if the broker refuses the name,
        or :class:`~zmqchat.errors.Timeout` if it does not answer in time.
        """
        if self._task is not None:
            raise RuntimeError("connect() was already called")
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="zmqchat-io")
        wait = self.connect_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self._settled.wait(), wait)
        except TimeoutError:
            pass
        except BaseException:
            # Cancelled: don't leave the I/O task registering (and holding the name)
            # behind a caller that gave up; it closes its sockets as it ends.
            self._task.cancel()
            raise
        if not self._settled.is_set() or self._core.state == "closed":
            error = self._refusal(wait)
            await self._stop()
            raise error
        if self._on_event is not None:
            self._dispatcher = loop.create_task(self._dispatch(), name="zmqchat-events")
        assert self._core.welcome is not None
        return self._core.welcome

    async def close(self, timeout: float = 2.0) -> None:
        """Say ``bye`` (freeing the name at once) and stop. Safe to call twice."""
        if self._task is not None and not self._done.is_set():
            self._core.close(time.monotonic())
            self._driver.apply()
            self._driver.wake()
            try:
                await asyncio.wait_for(self._done.wait(), timeout + 1.0)
            except TimeoutError:
                await self._stop()
        self._driver.close()
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not asyncio.current_task():
            # Let the callback see the events that came before the end.
            finished, _ = await asyncio.wait({dispatcher}, timeout=timeout)
            if not finished:
                dispatcher.cancel()

    async def _stop(self) -> None:
        """End the I/O task now, without ``bye``."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._driver.close()

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------- requests

    async def request(self, request: Record, timeout: float | None = None) -> Any:
        """Send any request record and return the reply record."""
        return await self._complete(requests.any_reply(request, timeout))

    def _start(self, call: Call[Any, _T]) -> asyncio.Future[_T]:
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        done = functools.partial(settle, future, call)
        if self._task is None or self._done.is_set():
            done(ConnectionClosed(self._core.close_reason or "not connected"))
            return future
        # The I/O task is parked in its poll: handing the request to the core and
        # the socket here, on the same loop, is safe; the wake-up makes the task
        # recompute its deadline.
        self._core.submit(call.request, done, time.monotonic(), call.timeout)
        self._driver.apply()
        self._driver.wake()
        return future

    async def _complete(self, call: Call[Any, _T]) -> _T:
        # wait_for cancels the future if the caller is cancelled: settle() then
        # drops the late reply.
        try:
            return await asyncio.wait_for(self._start(call), self._reply_limit(call.timeout))
        except TimeoutError:
            raise Timeout("no reply from the broker within the time allowed") from None

    async def _pump(self, transfer: Transfer[_T]) -> _T:
        """Run ``transfer`` on the loop as its replies arrive; wait here, handing
        over progress."""
        woken = asyncio.Event()
        pump = Pump(transfer, self._core.submit, woken.set)
        if self._task is None or self._done.is_set():
            transfer.close()
            raise ConnectionClosed(self._core.close_reason or "not connected")
        self._step(pump.run)
        try:
            while not pump.ended:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), REPORT_PERIOD)
                woken.clear()
                pump.report()
                if pump.cancelled():
                    self._step(pump.stop)
                elif pump.idle:  # waiting out a retry_after
                    self._step(pump.run)
        except BaseException:  # cancelled, or the callback raised
            self._step(pump.stop)
            raise
        pump.report()
        return transfer.result()

    def _step(self, step: Callable[[float], object]) -> None:
        """Run ``step`` of a pump here, on the loop, and send what it asked for."""
        step(time.monotonic())
        self._driver.apply()
        self._driver.wake()

    # --------------------------------------------------------------------- events

    async def next_event(self, timeout: float | None = None) -> Event:
        """The next event; raises :class:`Timeout` if none arrives in ``timeout`` s,
        :class:`ConnectionClosed` once the client is closed and drained."""
        self._check_reader()
        return await self._next_event(timeout)

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """Events as they arrive; ends when the client is closed, or after
        ``timeout`` seconds without one."""
        with contextlib.suppress(Timeout, ConnectionClosed):
            while True:
                yield await self.next_event(timeout)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def _next_event(self, timeout: float | None) -> Event:
        try:
            async with asyncio.timeout(timeout):
                while not self._events.ready:
                    self._ready.clear()
                    await self._ready.wait()
        except TimeoutError:
            raise Timeout(f"no event within {timeout}s") from None
        return self._take_event()

    def _deliver(self, item: Event) -> None:
        self._events.put(item)
        self._ready.set()

    async def _dispatch(self) -> None:
        """Hand every event to ``on_event`` in order, awaiting what it returns."""
        while True:
            try:
                event = await self._next_event(None)
            except ConnectionClosed:
                return
            pending = self._hand_over(event)
            if inspect.isawaitable(pending):
                try:
                    await pending
                except Exception:
                    log.exception("on_event callback failed on %r", event)

    # ----------------------------------------------------------------- the I/O task

    async def _run(self) -> None:
        driver = self._driver
        try:
            driver.start(time.monotonic())
            while True:
                timeout = driver.timeout_ms(time.monotonic())
                ready = dict(await self._poller.poll(-1 if timeout is None else timeout))
                if self._turn(ready, time.monotonic()) == "closed":
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)
        finally:
            self._wind_up()

    def _end_events(self) -> None:
        self._events.end()
        self._ready.set()
