"""``zmqchat.aio.AsyncClient``: the asyncio client.

The same :class:`~zmqchat.client.core.connection.ClientCore` (requests, replies,
reconnection, gap filling) and the same
:class:`~zmqchat.client.io.driver.SocketDriver` (sockets) as the thread-based
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
import logging
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any, Final, TypeVar

import zmq
import zmq.asyncio

from zmqchat.client.core.connection import ClientCore
from zmqchat.client.core.events import ConnectionState, Event
from zmqchat.client.io.driver import SocketDriver
from zmqchat.client.io.transport import DEFAULT_ENDPOINT, check_endpoint
from zmqchat.common.messages import (
    Chat,
    ChatAck,
    History,
    HistoryPage,
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    Ping,
    Pm,
    PmAck,
    Pong,
    Record,
    RoomInfo,
    RoomList,
    Users,
    Welcome,
    Who,
)
from zmqchat.common.protocol import DEFAULT_ROOMS, HISTORY_DEFAULT_LIMIT, ErrorCode
from zmqchat.errors import ConnectionClosed, ProtocolError, Timeout

__all__ = ["AsyncClient"]

log = logging.getLogger("zmqchat.client")

_R = TypeVar("_R")
_END: Final = object()  # queued after the last event of a closed client


class AsyncClient:
    """A connection to a zmqchat broker as one user, for asyncio programs.

    Every request method is a coroutine that returns the broker's reply record and
    raises :class:`~zmqchat.errors.BrokerError` (with ``.code``) when it refuses, or
    :class:`~zmqchat.errors.Timeout`. Cancelling a task that awaits a reply leaves
    the client usable (the late reply is dropped). Events arrive through ``async
    for event in client`` or :meth:`next_event`.
    """

    def __init__(
        self,
        user: str,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        password: str | None = None,
        client_name: str | None = None,
        request_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_events: int = 10_000,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self.endpoint = check_endpoint(endpoint)
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self._core = ClientCore(
            user,
            rooms=rooms,
            password=password,
            client_name=client_name,
            request_timeout=request_timeout,
        )
        # Plain sockets, awaited through the asyncio poller: the driver's
        # non-blocking calls are then the same as in the thread-based client.
        self._poller = zmq.asyncio.Poller()
        self._driver = SocketDriver(
            self._core, self.endpoint, context or zmq.Context.instance(), self._poller, self._put
        )
        self._events: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_events)
        self.dropped_events = 0
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()  # the first register was answered (or not)
        self._done = asyncio.Event()  # the I/O task has finished

    # ------------------------------------------------------------------ lifecycle

    async def connect(self, timeout: float | None = None) -> Welcome:
        """Register with the broker; returns its ``welcome``.

        Raises :class:`~zmqchat.errors.BrokerError` if the broker refuses the name,
        or :class:`~zmqchat.errors.Timeout` if it does not answer in time.
        """
        if self._task is not None:
            raise RuntimeError("connect() was already called")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="zmqchat-io")
        wait = self.connect_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self._settled.wait(), wait)
        except TimeoutError:
            await self._stop()
            raise Timeout(
                f"no answer from a zmqchat broker at {self.endpoint} within {wait:g}s"
            ) from None
        except BaseException:
            # Cancelled: don't leave the I/O task registering (and holding the name)
            # behind a caller that gave up; it closes its sockets as it ends.
            self._task.cancel()
            raise
        if self._core.state == "closed":
            await self._stop()
            if self._core.close_error is not None:
                raise self._core.close_error
            raise ConnectionClosed(self._core.close_reason or "closed")
        assert self._core.welcome is not None
        return self._core.welcome

    async def close(self, timeout: float = 2.0) -> None:
        """Say ``bye`` (freeing the name at once) and stop. Safe to call twice."""
        if self._task is None or self._done.is_set():
            self._driver.close()
            return
        self._core.close(time.monotonic())
        self._driver.apply()
        self._driver.wake()
        try:
            await asyncio.wait_for(self._done.wait(), timeout + 1.0)
        except TimeoutError:
            await self._stop()

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

    # ----------------------------------------------------------------- properties

    @property
    def user(self) -> str:
        """The user name, as the broker registered it."""
        return self._core.user

    @property
    def session(self) -> str | None:
        """The session token (pass it as ``resume`` to take the session over)."""
        return self._core.session

    @property
    def state(self) -> ConnectionState:
        """``connecting``, ``connected``, ``reconnecting`` or ``closed``."""
        return self._core.state

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms this client is in."""
        return self._driver.rooms

    # ------------------------------------------------------------------- requests

    async def request(self, request: Record, timeout: float | None = None) -> Any:
        """Send any request record and return the reply record."""
        if self._task is None or self._done.is_set():
            raise ConnectionClosed(self._core.close_reason or "not connected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(result: Any) -> None:
            if future.done():  # the caller was cancelled: drop the late reply
                return
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        # The I/O task is parked in its poll: handing the request to the core and
        # the socket here, on the same loop, is safe; the wake-up makes the task
        # recompute its deadline.
        self._core.submit(request, done, time.monotonic(), timeout)
        self._driver.apply()
        self._driver.wake()
        limit = (self.request_timeout if timeout is None else timeout) + 1.0
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise Timeout("no reply from the broker within the time allowed") from None

    async def _ask(self, request: Record, kind: type[_R], timeout: float | None) -> _R:
        reply = await self.request(request, timeout)
        if not isinstance(reply, kind):
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"expected {kind.__name__}, got {type(reply).__name__}"
            )
        return reply

    async def join(self, room: str, *, timeout: float | None = None) -> Joined:
        """Join ``room`` (created on first join); returns its head seq and members."""
        return await self._ask(Join(room=room), Joined, timeout)

    async def leave(self, room: str, *, timeout: float | None = None) -> Left:
        """Leave ``room``."""
        return await self._ask(Leave(room=room), Left, timeout)

    async def send(
        self,
        room: str,
        text: str,
        *,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ChatAck:
        """Say ``text`` in ``room``; returns once the broker has stored it."""
        return await self._ask(Chat(room=room, text=text, data=data), ChatAck, timeout)

    async def pm(
        self,
        user: str,
        text: str,
        *,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> PmAck:
        """Send a private message to ``user``."""
        return await self._ask(Pm(to=user, text=text, data=data), PmAck, timeout)

    async def who(self, room: str | None = None, *, timeout: float | None = None) -> list[str]:
        """Names of the users in ``room``, or of everyone online."""
        return list((await self._ask(Who(room=room), Users, timeout)).users)

    async def list_rooms(self, *, timeout: float | None = None) -> list[RoomInfo]:
        """The rooms that have members: name, member count, head seq."""
        return list((await self._ask(ListRooms(), RoomList, timeout)).rooms)

    async def history(
        self,
        room: str | None = None,
        *,
        with_user: str | None = None,
        after: int | None = None,
        before: int | None = None,
        limit: int = HISTORY_DEFAULT_LIMIT,
        timeout: float | None = None,
    ) -> HistoryPage:
        """A page of a room's events, or of private messages ``with_user``."""
        request = History(room=room, with_user=with_user, after=after, before=before, limit=limit)
        return await self._ask(request, HistoryPage, timeout)

    async def ping(self, *, timeout: float | None = None) -> Pong:
        """Round trip to the broker; returns the head seq of each room we are in."""
        return await self._ask(Ping(), Pong, timeout)

    # --------------------------------------------------------------------- events

    async def next_event(self, timeout: float | None = None) -> Event:
        """The next event; raises :class:`Timeout` if none arrives in ``timeout`` s,
        :class:`ConnectionClosed` once the client is closed and drained."""
        try:
            item = await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            raise Timeout(f"no event within {timeout}s") from None
        if item is _END:
            self._put(_END)  # for any other reader
            raise ConnectionClosed(self._core.close_reason or "closed")
        event: Event = item
        return event

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """Events as they arrive; ends when the client is closed, or after
        ``timeout`` seconds without one."""
        while True:
            try:
                yield await self.next_event(timeout)
            except (Timeout, ConnectionClosed):
                return

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    def _put(self, item: Any) -> None:
        while True:
            try:
                self._events.put_nowait(item)
                return
            except asyncio.QueueFull:
                # Keep the newest: drop the oldest undelivered event.
                self._events.get_nowait()
                self.dropped_events += 1
                if self.dropped_events == 1 or self.dropped_events % 1000 == 0:
                    log.warning("event queue full: %d event(s) dropped", self.dropped_events)

    # ----------------------------------------------------------------- the I/O task

    async def _run(self) -> None:
        core, driver = self._core, self._driver
        try:
            driver.start(time.monotonic())
            while True:
                timeout = driver.timeout_ms(time.monotonic())
                ready = dict(await self._poller.poll(-1 if timeout is None else timeout))
                now = time.monotonic()
                driver.on_ready(ready, now)
                core.tick(now)
                driver.apply()
                if core.state != "connecting":
                    self._settled.set()
                if core.state == "closed":
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("zmqchat async client I/O task failed")
            driver.fail(exc)
        finally:
            driver.end("the client stopped")
            driver.close()
            self._done.set()
            self._settled.set()
            self._put(_END)

    def __repr__(self) -> str:
        return f"<AsyncClient {self.user!r} {self.state} {self.endpoint}>"
