"""The tasks of one run of a bot: handler calls, at most ``concurrency`` at once;
loops in the background (the dispatcher, one scheduler per periodic job); and how
they end when the bot stops: loops at once, calls after a grace period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any

from zmqchat.bot.context import Context, Handler, describe, name_of

__all__ = ["ErrorHook", "Supervisor"]

log = logging.getLogger("zmqchat.bot")

ErrorHook = Callable[[Context, Exception], Awaitable[Any]]


class Supervisor:
    """Runs a bot's handler calls and periodic jobs as tasks, for one run.

    An exception in a call or a job is logged with its traceback (a handler's then
    goes to ``on_error``) and goes no further. Asyncio objects belong to one event
    loop, so each run of the bot has a supervisor of its own.
    """

    def __init__(self, concurrency: int, on_error: ErrorHook | None = None) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._on_error = on_error
        self._loops: list[asyncio.Task[None]] = []
        self._work: set[asyncio.Task[None]] = set()  # handler and job runs in progress

    async def call(self, handler: Handler, ctx: Context) -> asyncio.Task[None]:
        """Start ``handler(ctx)`` as a task once one of the ``concurrency`` slots is
        free; returns the task."""
        # Waiting here holds further events back (in the client's bounded queue)
        # instead of piling up tasks.
        await self._slots.acquire()
        task = self._spawn(self._call(handler, ctx), name_of(handler))
        # Released when the task is done, not at the end of _call: a task cancelled
        # before its first step never runs _call at all.
        task.add_done_callback(lambda _: self._slots.release())
        return task

    def background(self, loop: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``loop`` until :meth:`stop`."""
        self._loops.append(asyncio.get_running_loop().create_task(loop, name=name))

    def every(
        self,
        job: Callable[[], Awaitable[Any]],
        interval: float,
        delay: float,
        *,
        name: str,
        loop_name: str,
    ) -> None:
        """Run ``job()`` every ``interval`` seconds from ``delay`` seconds on, until
        :meth:`stop`. A run still going when the next is due makes that one skip.
        ``name`` names the runs (in the log too), ``loop_name`` their scheduler."""
        self.background(self._schedule(job, interval, delay, name), loop_name)

    async def stop(self, timeout: float, spare: Collection[asyncio.Task[Any]] = ()) -> None:
        """Cancel the loops, give the handler calls and job runs still going (but
        those in ``spare``) ``timeout`` seconds to finish, then cancel them."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        busy = self._work.difference(spare)
        if busy:
            _, late = await asyncio.wait(busy, timeout=timeout)
            if late:
                log.warning("cancelling %d handler(s) still running after %gs", len(late), timeout)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        return task

    async def _call(self, handler: Handler, ctx: Context) -> None:
        try:
            await handler(ctx)
        except Exception as exc:
            log.exception("%s failed on %s", name_of(handler), describe(ctx.event))
            if self._on_error is not None:
                try:
                    await self._on_error(ctx, exc)
                except Exception:
                    log.exception("the on_error hook failed too")

    async def _schedule(
        self, job: Callable[[], Awaitable[Any]], interval: float, delay: float, name: str
    ) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            run = self._spawn(self._run_job(job, name), name)
            # asyncio.wait, unlike await, leaves the run alone when stop() cancels
            # this scheduler: stop gives it the same grace as a handler.
            await asyncio.wait({run})
            due += interval
            now = loop.time()
            if due <= now:  # the run took longer than the interval: skip what is missed
                due += interval * ((now - due) // interval + 1)

    @staticmethod
    async def _run_job(job: Callable[[], Awaitable[Any]], name: str) -> None:
        try:
            await job()
        except Exception:
            log.exception("job %s failed", name)
