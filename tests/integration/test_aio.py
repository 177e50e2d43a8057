"""zmqchat.aio.AsyncClient against a real broker: the same behaviour as Client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from zmqchat import BrokerError, ChatEvent, ConnectionClosed, PmEvent, StatusEvent, Timeout
from zmqchat.aio import AsyncClient
from zmqchat.testing import async_wait_until

pytestmark = pytest.mark.timeout(60)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 45))  # type: ignore[arg-type]


async def next_of(
    client: AsyncClient, kind: type, match: Callable[[Any], bool] = lambda e: True
) -> Any:
    """The next event of ``kind`` that ``match``es, skipping others."""
    while True:
        event = await client.next_event(10)
        if isinstance(event, kind) and match(event):
            return event


def test_requests_replies_events_and_errors(broker):
    async def main() -> None:
        async with (
            AsyncClient("alice", broker.endpoint, rooms=["general"]) as alice,
            AsyncClient("bob", broker.endpoint, rooms=["general", "dev"]) as bob,
        ):
            ack = await alice.send("general", "hello", data={"n": 1})
            seen = await next_of(bob, ChatEvent, lambda e: e.text == "hello")
            assert (seen.seq, seen.sender, seen.data) == (ack.seq, "alice", {"n": 1})
            assert await bob.who("general") == ["alice", "bob"]
            assert {r.name for r in await alice.list_rooms()} == {"general", "dev"}
            page = await alice.history("general", limit=1)
            assert [m.text for m in page.messages] == ["hello"]  # type: ignore[union-attr]
            pm = await alice.pm("bob", "psst")
            got = await next_of(bob, PmEvent)
            assert (got.id, got.text, got.sender) == (pm.id, "psst", "alice")
            with pytest.raises(BrokerError) as refused:
                await alice.send("dev", "not a member")
            assert refused.value.code == "not_in_room"
            assert (await alice.join("dev")).members == ("alice", "bob")
            assert alice.rooms == ("general", "dev")

    run(main())


def test_a_refused_name_raises_and_a_dead_broker_times_out(make_broker):
    broker = make_broker()

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint):
            with pytest.raises(BrokerError) as taken:
                await AsyncClient("alice", broker.endpoint).connect()
            assert taken.value.code == "name_taken"
        broker.kill()
        with pytest.raises(Timeout):
            await AsyncClient("carol", broker.endpoint, connect_timeout=0.3).connect()

    run(main())


def test_cancelling_a_waiting_request_leaves_the_client_usable(make_broker):
    broker = make_broker()

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint) as alice:
            broker.pause()  # the reply will come late
            waiting = asyncio.create_task(alice.send("general", "late"))
            await async_wait_until(
                lambda: alice._core._pending, 5, "the request on its way", interval=0
            )
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            broker.resume()
            ack = await alice.send("general", "next")
            assert ack.seq > 0
            assert (await alice.ping()).heads["general"] == ack.seq

    run(main())


def test_the_loop_is_never_blocked_while_a_reply_is_awaited(make_broker):
    broker = make_broker()

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint, request_timeout=1.0) as alice:
            gaps: list[float] = []

            async def ticker() -> None:
                last = time.monotonic()
                while True:
                    await asyncio.sleep(0.01)
                    gaps.append(time.monotonic() - last)
                    last = time.monotonic()

            ticks = asyncio.create_task(ticker())
            broker.pause()
            with pytest.raises(Timeout):
                await alice.ping(timeout=0.5)
            broker.resume()
            ticks.cancel()
            # The gaps say whether the loop was blocked; how many ticks fit in the
            # 0.5 s depends on how busy the machine is (16 of 50 on a loaded 2-core
            # VM), so only a few are required to have run at all.
            assert len(gaps) > 5
            assert max(gaps) < 0.2, max(gaps)

    run(main())


def test_reconnects_after_a_kill_and_fills_the_gap_once(make_broker):
    broker = make_broker()

    async def main() -> None:
        async with (
            AsyncClient("reader", broker.endpoint) as reader,
            AsyncClient("writer", broker.endpoint) as writer,
        ):
            first = await writer.send("general", "before")
            await next_of(reader, ChatEvent, lambda e: e.text == "before")
            broker.kill()
            broker.start()
            await next_of(reader, StatusEvent, lambda e: e.state == "connected" and e.resumed)
            await next_of(writer, StatusEvent, lambda e: e.state == "connected")
            sent = [(await writer.send("general", f"after {i}")).seq for i in range(3)]
            assert sent == [first.seq + 1, first.seq + 2, first.seq + 3]
            # Everything that arrives until a second of quiet: no duplicates.
            chats = [e async for e in reader.events(timeout=1.0) if isinstance(e, ChatEvent)]
            assert [(c.seq, c.text) for c in chats] == list(
                zip(sent, ["after 0", "after 1", "after 2"], strict=True)
            )

    run(main())


def test_events_end_when_the_client_closes(broker):
    async def main() -> None:
        alice = AsyncClient("alice", broker.endpoint)
        await alice.connect()
        await alice.close()
        seen = [event async for event in alice]
        assert isinstance(seen[0], StatusEvent)
        with pytest.raises(ConnectionClosed):
            await alice.send("general", "too late")
        async with AsyncClient("alice", broker.endpoint):  # bye freed the name at once
            pass

    run(main())


def test_send_async_keeps_many_messages_in_flight(broker):
    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint) as alice:
            futures = [alice.send_async("general", f"m{n}") for n in range(100)]
            # Nothing has run on the loop yet: every send is still waiting for its ack.
            assert not any(future.done() for future in futures)
            seqs = [ack.seq for ack in await asyncio.gather(*futures)]
            assert seqs == list(range(seqs[0], seqs[0] + 100))
            with pytest.raises(BrokerError) as refused:
                await alice.send_async("dev", "not a member")
            assert refused.value.code == "not_in_room"
        with pytest.raises(ConnectionClosed):
            await alice.send_async("general", "too late")

    run(main())


def chat_texts(events: list[Any]) -> list[str]:
    return [event.text for event in events if isinstance(event, ChatEvent)]


def test_on_event_takes_functions_and_coroutine_functions_in_order(broker):
    async def main() -> None:
        plain: list[Any] = []
        awaited: list[Any] = []
        plain_done, awaited_done = asyncio.Event(), asyncio.Event()

        def note(event: Any) -> None:
            if isinstance(event, ChatEvent) and event.text == "m0":
                raise ValueError("a broken callback")  # logged; later events still come
            plain.append(event)
            if isinstance(event, ChatEvent) and event.text == "m4":
                plain_done.set()

        async def note_later(event: Any) -> None:
            await asyncio.sleep(0)  # the next event waits until this one is handled
            awaited.append(event)
            if isinstance(event, ChatEvent) and event.text == "m4":
                awaited_done.set()

        async with AsyncClient("writer", broker.endpoint) as writer:
            async with (
                AsyncClient("plain", broker.endpoint, on_event=note) as plain_client,
                AsyncClient("awaiting", broker.endpoint, on_event=note_later),
            ):
                with pytest.raises(RuntimeError):
                    await plain_client.next_event(0)
                for n in range(5):
                    await writer.send("general", f"m{n}")
                await asyncio.wait_for(asyncio.gather(plain_done.wait(), awaited_done.wait()), 10)
            # close() waits for the callbacks: both saw their client close.
            for seen in (plain, awaited):
                assert StatusEvent(state="closed", reason="closed") in seen
            assert chat_texts(plain) == ["m1", "m2", "m3", "m4"]
            assert chat_texts(awaited) == ["m0", "m1", "m2", "m3", "m4"]

    run(main())
