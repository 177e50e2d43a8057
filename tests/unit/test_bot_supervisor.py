"""zmqchat.bot's Supervisor without a broker: the concurrency slots of handler calls,
failures, and what stop() waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import pytest

from zmqchat import ChatEvent
from zmqchat.bot import Bot, Context
from zmqchat.bot.supervisor import Supervisor

pytestmark = pytest.mark.timeout(10)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 5))  # type: ignore[arg-type]


def context(text: str) -> Context:
    bot = Bot("bot", "tcp://127.0.0.1:5555")
    return Context(bot, ChatEvent(room="general", seq=1, sender="alice", text=text, ts=1.0))


def test_a_call_cancelled_before_it_starts_frees_its_slot() -> None:
    ran: list[str] = []

    async def handler(ctx: Context) -> None:
        ran.append(ctx.text)

    async def main() -> None:
        supervisor = Supervisor(concurrency=1)
        first = await supervisor.call(handler, context("first"))
        first.cancel()  # before its first step: the handler never runs
        # With the slot leaked, this would wait for ever.
        second = await asyncio.wait_for(supervisor.call(handler, context("second")), 1)
        await second
        assert first.cancelled()
        assert ran == ["second"]
        third = await asyncio.wait_for(supervisor.call(handler, context("third")), 1)
        await third
        assert ran == ["second", "third"]

    run(main())


def test_calls_wait_for_a_free_slot_and_start_in_order() -> None:
    release = asyncio.Event()
    running: list[str] = []

    async def handler(ctx: Context) -> None:
        running.append(ctx.text)
        await release.wait()

    async def main() -> None:
        supervisor = Supervisor(concurrency=2)
        tasks = [await supervisor.call(handler, context(t)) for t in ("a", "b")]
        third = asyncio.ensure_future(supervisor.call(handler, context("c")))
        while running != ["a", "b"]:
            await asyncio.sleep(0)
        assert not third.done()  # both slots are taken
        release.set()
        tasks.append(await third)
        await asyncio.gather(*tasks)
        assert running == ["a", "b", "c"]

    run(main())


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_failing_call_is_logged_goes_to_the_hook_and_frees_its_slot() -> None:
    hooked: list[tuple[str, str]] = []

    async def boom(ctx: Context) -> None:
        raise RuntimeError(f"kaboom {ctx.text}")

    async def hook(ctx: Context, exc: Exception) -> None:
        hooked.append((ctx.text, str(exc)))
        raise ValueError("the hook fails too")

    async def main() -> None:
        supervisor = Supervisor(concurrency=1, on_error=hook)
        for text in ("1", "2"):
            await (await asyncio.wait_for(supervisor.call(boom, context(text)), 1))

    # On the bot's own logger: zmqchat.logs may keep zmqchat records from the root.
    records = _Records()
    logger = logging.getLogger("zmqchat.bot")
    logger.addHandler(records)
    try:
        run(main())
    finally:
        logger.removeHandler(records)
    assert hooked == [("1", "kaboom 1"), ("2", "kaboom 2")]
    assert records.messages[:2] == [
        "test_a_failing_call_is_logged_goes_to_the_hook_and_frees_its_slot.<locals>.boom"
        " failed on #general seq 1 from alice: '1'",
        "the on_error hook failed too",
    ]


def test_stop_gives_calls_their_grace_then_cancels_them_but_spares_the_caller() -> None:
    finished: list[str] = []

    async def quick(ctx: Context) -> None:
        await asyncio.sleep(0.01)
        finished.append(ctx.text)

    async def stuck(ctx: Context) -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        supervisor = Supervisor(concurrency=4)
        loop_started, loop_ended = asyncio.Event(), asyncio.Event()

        async def background() -> None:
            loop_started.set()
            try:
                await asyncio.Event().wait()
            finally:
                loop_ended.set()

        supervisor.background(background(), "loop")
        done = await supervisor.call(quick, context("quick"))
        late = await supervisor.call(stuck, context("stuck"))
        spared = await supervisor.call(stuck, context("spared"))
        await loop_started.wait()
        await supervisor.stop(0.5, spare={spared})
        assert loop_ended.is_set()
        assert done.done()
        assert not done.cancelled()
        assert late.cancelled()
        assert not spared.done()
        spared.cancel()
        assert finished == ["quick"]

    run(main())
