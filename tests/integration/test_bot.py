"""zmqchat.bot.Bot against a real broker: dispatch, isolation of failures, jobs,
history, reconnection and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from tests.helpers import RawPeer

from zmqchat import (
    BrokerError,
    ChatEvent,
    Client,
    ConnectionClosed,
    PmEvent,
    PresenceEvent,
    StatusEvent,
)
from zmqchat.aio import AsyncClient
from zmqchat.bot import Bot, Context
from zmqchat.testing import async_wait_until

pytestmark = pytest.mark.timeout(30)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


async def next_of(
    client: AsyncClient, kind: type, match: Callable[[Any], bool] = lambda e: True
) -> Any:
    """The next event of ``kind`` that ``match``es, skipping others."""
    while True:
        event = await client.next_event(10)
        if isinstance(event, kind) and match(event):
            return event


async def said_by(client: AsyncClient, sender: str, room: str | None = None) -> ChatEvent:
    """The next room message from ``sender`` (in ``room``): whatever it says, so an
    unexpected reply shows up as a wrong text rather than being skipped."""
    event: ChatEvent = await next_of(
        client, ChatEvent, lambda e: e.sender == sender and room in (None, e.room)
    )
    return event


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def bot_log() -> Iterator[list[logging.LogRecord]]:
    """What the bot logs. A handler on its own logger, since the commands' logging
    set-up (zmqchat.logs) stops zmqchat records from reaching pytest's caplog."""
    handler = _Records()
    logger = logging.getLogger("zmqchat.bot")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """The formatted message and traceback of every record logged with one."""
    formatter = logging.Formatter()
    return [formatter.format(r) for r in records if r.exc_info]


def test_commands_patterns_help_and_own_messages(broker):
    # concurrency=1: events are handled one after another, so once the last `!ping`
    # is answered everything said before it has been through every handler.
    bot = Bot("helper", broker.endpoint, concurrency=1)
    seen: list[tuple[str, str, str]] = []

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        """check the bot is alive"""
        await ctx.reply("pong")

    @bot.command("echo")
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"{ctx.command} {ctx.args} {ctx.rest!r}")

    @bot.command("deploy", room="ops")
    async def deploy(ctx: Context) -> None:
        await ctx.reply(f"deploying from #{ctx.room}")

    @bot.on_message(pattern=r"(\d+)\s*\+\s*(\d+)")
    async def add(ctx: Context) -> None:
        assert ctx.match is not None
        await ctx.reply(str(int(ctx.match[1]) + int(ctx.match[2])))

    @bot.on_message()
    async def everything(ctx: Context) -> None:
        seen.append((ctx.room or "", ctx.sender, ctx.text))

    async def main() -> None:
        async with bot, AsyncClient("alice", broker.endpoint, rooms=["general", "ops"]) as alice:
            assert bot.rooms == ("general", "ops")  # ops: named by a handler
            await alice.send("general", "!ping")
            assert (await said_by(alice, "helper")).text == "pong"
            await alice.send("general", "  !ECHO  a  b ")
            assert (await said_by(alice, "helper")).text == "echo ('a', 'b') 'a  b'"
            await alice.send("general", "what is 2 + 3?")
            assert (await said_by(alice, "helper")).text == "5"
            await alice.send("general", "!deploy")  # only in ops: no answer here
            await alice.send("general", "!nosuch and ! ping")  # not commands
            await alice.send("ops", "!deploy")
            reply = await said_by(alice, "helper")
            assert (reply.room, reply.text) == ("ops", "deploying from #ops")
            await alice.send("general", "!help")
            assert (await said_by(alice, "helper")).text == (
                "commands: !echo; !ping: check the bot is alive"
            )
            await alice.send("general", "!ping")
            assert (await said_by(alice, "helper")).text == "pong"
            # The bot's own replies, all said before that last `!ping`, were not
            # handled (`everything` handles the `!ping` itself after the command,
            # so perhaps not yet).
            assert {sender for _, sender, _ in seen} == {"alice"}
            assert [text for _, _, text in seen][:7] == [
                "!ping",
                "  !ECHO  a  b ",
                "what is 2 + 3?",
                "!deploy",
                "!nosuch and ! ping",
                "!deploy",
                "!help",
            ]

    run(main())


def test_private_messages_and_presence(broker):
    bot = Bot("greeter", broker.endpoint, rooms=["lobby"])
    left: list[str] = []

    @bot.on_pm()
    async def private(ctx: Context) -> None:
        await ctx.reply(f"you said {ctx.text}", data={"private": ctx.private, "to": ctx.sender})

    @bot.command("whoami")
    async def whoami(ctx: Context) -> None:
        await ctx.reply(f"you are {ctx.sender}")

    @bot.command("roomonly", pm=False)
    async def roomonly(ctx: Context) -> None:
        await ctx.reply("not in private")

    @bot.command("psst")
    async def psst(ctx: Context) -> None:
        await ctx.pm("a secret")  # privately, though asked in a room

    @bot.on_presence(room="lobby", event="join")
    async def welcome(ctx: Context) -> None:
        await ctx.reply(f"welcome {ctx.sender}")

    @bot.on_presence(event="leave")
    async def goodbye(ctx: Context) -> None:
        assert isinstance(ctx.event, PresenceEvent)
        left.append(f"{ctx.sender} {ctx.event.reason}")

    async def main() -> None:
        async with bot, AsyncClient("alice", broker.endpoint, rooms=["lobby"]) as alice:
            assert (await said_by(alice, "greeter")).text == "welcome alice"
            await alice.pm("greeter", "!roomonly")
            await alice.pm("greeter", "hi")
            answers = [await next_of(alice, PmEvent) for _ in range(2)]
            assert [(a.sender, a.text, a.data) for a in answers] == [
                ("greeter", "you said !roomonly", {"private": True, "to": "alice"}),
                ("greeter", "you said hi", {"private": True, "to": "alice"}),
            ]
            await alice.pm("greeter", "!whoami")
            got = {(await next_of(alice, PmEvent)).text for _ in range(2)}
            assert got == {"you said !whoami", "you are alice"}
            await alice.send("lobby", "!psst")
            assert (await next_of(alice, PmEvent)).text == "a secret"

            async with AsyncClient("carol", broker.endpoint, rooms=["lobby"]):
                assert (await said_by(alice, "greeter")).text == "welcome carol"
            await async_wait_until(lambda: left, what="carol's leave")
            assert left == ["carol quit"]

    run(main())


def test_a_failing_handler_is_logged_and_the_bot_keeps_answering(broker, bot_log):
    bot = Bot("fragile", broker.endpoint)
    hooked: list[str] = []

    @bot.command("boom")
    async def boom(ctx: Context) -> None:
        raise RuntimeError(f"kaboom {ctx.rest}")

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    @bot.on_error
    async def oops(ctx: Context, exc: Exception) -> None:
        hooked.append(repr(exc))
        if ctx.rest == "loudly":
            await ctx.reply(f"sorry, {exc}")

    async def main() -> None:
        async with bot, AsyncClient("alice", broker.endpoint) as alice:
            await alice.send("general", "!boom quietly")
            await alice.send("general", "!boom loudly")
            assert (await said_by(alice, "fragile")).text == "sorry, kaboom loudly"
            await alice.send("general", "!ping")
            assert (await said_by(alice, "fragile")).text == "pong"
        assert hooked == ["RuntimeError('kaboom quietly')", "RuntimeError('kaboom loudly')"]
        logged = tracebacks(bot_log)
        assert len(logged) == 2
        assert "boom failed on #general seq" in logged[0]
        assert "from alice: '!boom quietly'" in logged[0]
        assert "Traceback (most recent call last)" in logged[0]
        assert "RuntimeError: kaboom quietly" in logged[0]

    run(main())


def test_a_slow_handler_does_not_hold_up_the_others(broker):
    bot = Bot("busy", broker.endpoint)

    async def main() -> None:
        release = asyncio.Event()

        @bot.command("slow")
        async def slow(ctx: Context) -> None:
            await release.wait()
            await ctx.reply("slow done")

        @bot.command("fast")
        async def fast(ctx: Context) -> None:
            await ctx.reply("fast done")

        async with bot, AsyncClient("alice", broker.endpoint) as alice:
            await alice.send("general", "!slow")
            await alice.send("general", "!fast")
            assert (await said_by(alice, "busy")).text == "fast done"
            release.set()
            assert (await said_by(alice, "busy")).text == "slow done"

    run(main())


def test_with_concurrency_one_events_are_handled_one_at_a_time(broker):
    bot = Bot("queue", broker.endpoint, concurrency=1)
    steps: list[str] = []

    @bot.command("step")
    async def step(ctx: Context) -> None:
        steps.append(f"start {ctx.rest}")
        await asyncio.sleep(0.02)  # work that yields to the loop
        steps.append(f"end {ctx.rest}")
        await ctx.reply(f"done {ctx.rest}")

    async def main() -> None:
        async with bot, AsyncClient("alice", broker.endpoint) as alice:
            for n in range(3):
                await alice.send("general", f"!step {n}")
            assert [(await said_by(alice, "queue")).text for _ in range(3)] == [
                "done 0",
                "done 1",
                "done 2",
            ]
        assert steps == ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]

    run(main())


def test_periodic_jobs_survive_failures_and_never_overlap(broker, bot_log):
    bot = Bot("ticker", broker.endpoint)
    ticks: list[int] = []
    overlap = {"now": 0, "most": 0, "runs": 0}

    @bot.every(0.02, delay=0)
    async def tick(bot: Bot) -> None:
        ticks.append(len(ticks) + 1)
        if len(ticks) == 2:
            raise ValueError("tick 2 failed")
        if len(ticks) == 3:
            await bot.send("general", "tick", data={"n": 3})

    @bot.every(0.01)
    async def slow(bot: Bot) -> None:
        overlap["now"] += 1
        overlap["most"] = max(overlap["most"], overlap["now"])
        await asyncio.sleep(0.05)  # five intervals
        overlap["now"] -= 1
        overlap["runs"] += 1

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint) as alice, bot:
            said = await said_by(alice, "ticker")
            assert (said.text, said.data) == ("tick", {"n": 3})
            await async_wait_until(
                lambda: len(ticks) >= 5 and overlap["runs"] >= 3, what="more runs"
            )
        assert overlap["most"] == 1
        stopped = len(ticks)
        await asyncio.sleep(0.1)  # stopped: no more runs
        assert len(ticks) == stopped
        logged = tracebacks(bot_log)
        assert len(logged) == 1
        assert "job " in logged[0]
        assert "tick failed on" not in logged[0]
        assert "ValueError: tick 2 failed" in logged[0]

    run(main())


def test_what_was_said_before_the_bot_joined_is_not_handled(broker):
    handled: list[tuple[str | None, int]] = []
    bot = Bot("late", broker.endpoint)

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        assert isinstance(ctx.event, ChatEvent)
        handled.append((ctx.room, ctx.event.seq))
        await ctx.reply("pong")

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint, rooms=["general", "dev"]) as alice:
            await alice.send("general", "!ping")  # nobody to answer yet
            await alice.send("dev", "!ping")
            async with bot:
                ack = await alice.send("general", "!ping")
                assert (await said_by(alice, "late")).text == "pong"
                await bot.join("dev")
                ack_dev = await alice.send("dev", "!ping")
                assert (await said_by(alice, "late", "dev")).text == "pong"
                assert handled == [("general", ack.seq), ("dev", ack_dev.seq)]
            for room in ("general", "dev"):
                page = await alice.history(room)
                texts = [m.text for m in page.messages if isinstance(m, ChatEvent)]
                assert texts == ["!ping", "!ping", "pong"]

    run(main())


def test_a_command_during_a_broker_restart_is_answered_once(make_broker):
    broker = make_broker()
    bot = Bot("steady", broker.endpoint)
    handled: list[int] = []

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        assert isinstance(ctx.event, ChatEvent)
        handled.append(ctx.event.seq)
        await ctx.reply(f"pong {ctx.rest}")

    async def main() -> None:
        async with bot, AsyncClient("alice", broker.endpoint) as alice:
            await alice.send("general", "!ping 1")
            assert (await said_by(alice, "steady")).text == "pong 1"
            broker.kill()
            broker.start()
            await next_of(alice, StatusEvent, lambda e: e.state == "connected")
            ack = await alice.send("general", "!ping 2")
            assert (await said_by(alice, "steady")).text == "pong 2"
            await alice.send("general", "!ping 3")
            assert (await said_by(alice, "steady")).text == "pong 3"
            assert handled[1] == ack.seq
            assert len(handled) == 3

    run(main())


def test_stop_says_bye_at_once_and_the_bot_can_start_again(broker):
    bot = Bot("byebot", broker.endpoint)

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    @bot.command("quit")
    async def quit_(ctx: Context) -> None:
        await ctx.reply("bye")
        await ctx.bot.stop()

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint) as alice:
            await bot.start()
            with pytest.raises(BrokerError) as taken:
                await AsyncClient("byebot", broker.endpoint).connect()
            assert taken.value.code == "name_taken"
            await bot.stop()
            gone = await next_of(
                alice, PresenceEvent, lambda e: (e.user, e.event) == ("byebot", "leave")
            )
            assert gone.reason == "quit"  # a bye, not a timeout
            async with AsyncClient("byebot", broker.endpoint):  # the name is free at once
                pass

            await bot.start()  # again
            serving = asyncio.create_task(bot.serve())
            await alice.send("general", "!ping")
            assert (await said_by(alice, "byebot")).text == "pong"
            await alice.send("general", "!quit")  # a handler stops the bot: serve returns
            assert (await said_by(alice, "byebot")).text == "bye"
            await asyncio.wait_for(serving, 5)
            assert await alice.who("general") == ["alice"]

    run(main())


def test_serve_raises_when_the_session_is_taken_over(broker, bot_log):
    bot = Bot("taken", broker.endpoint)

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    async def main() -> None:
        await bot.start()
        serving = asyncio.create_task(bot.serve())
        # Another connection resumes the bot's session: the broker closes the bot's.
        peer = RawPeer(broker.endpoint)
        try:
            await asyncio.to_thread(peer.register, "taken", resume=bot.client.session)
            with pytest.raises(ConnectionClosed, match="replaced"):
                await asyncio.wait_for(serving, 10)
        finally:
            peer.close()
        assert any("the connection ended" in r.getMessage() for r in bot_log)

    run(main())


def test_run_exits_1_when_refused_and_3_when_no_broker_answers(broker):
    with Client("dup", broker.endpoint):
        with pytest.raises(SystemExit) as refused:
            Bot("dup", broker.endpoint).run(log_level=None)
        assert refused.value.code == 1
    nobody = Bot("lonely", f"tcp://127.0.0.1:{free_port()}", connect_timeout=0.3)
    with pytest.raises(SystemExit) as unreachable:
        nobody.run(log_level=None)
    assert unreachable.value.code == 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
