"""max_events on both faces: a reader that stops reading keeps the newest events,
and dropped_events says how many older ones it lost."""

from __future__ import annotations

import asyncio

import pytest

from zmqchat import ChatEvent, Client, Timeout
from zmqchat.aio import AsyncClient
from zmqchat.testing import async_expect, async_wait_until, expect, wait_until

pytestmark = pytest.mark.timeout(60)

KEPT = 5
SENT = 25


def dropped_all(reader: Client | AsyncClient) -> bool:
    return reader.dropped_events == SENT - KEPT


def test_a_client_that_stops_reading_keeps_the_newest_events(broker):
    with (
        Client("reader", broker.endpoint, rooms=["flood"], max_events=KEPT) as reader,
        Client("writer", broker.endpoint, rooms=["flood"]) as writer,
    ):
        # Up to here the buffer is read: what follows is the flood alone.
        expect(reader, "presence", room="flood", user="writer")
        sent = [writer.send("flood", f"m{n}").seq for n in range(SENT)]
        wait_until(lambda: dropped_all(reader), what=f"{SENT - KEPT} dropped events")
        kept = [reader.next_event(5) for _ in range(KEPT)]
        assert all(isinstance(event, ChatEvent) for event in kept)
        assert [(e.seq, e.text) for e in kept] == [
            (sent[n], f"m{n}") for n in range(SENT - KEPT, SENT)
        ]
        with pytest.raises(Timeout):
            reader.next_event(0)  # nothing else was kept
        assert reader.dropped_events == SENT - KEPT


def test_an_async_client_that_stops_reading_keeps_the_newest_events(broker):
    async def main() -> None:
        async with (
            AsyncClient("reader", broker.endpoint, rooms=["flood"], max_events=KEPT) as reader,
            AsyncClient("writer", broker.endpoint, rooms=["flood"]) as writer,
        ):
            await async_expect(reader, "presence", room="flood", user="writer")
            sent = [(await writer.send("flood", f"m{n}")).seq for n in range(SENT)]
            await async_wait_until(
                lambda: dropped_all(reader), what=f"{SENT - KEPT} dropped events"
            )
            kept = [await reader.next_event(5) for _ in range(KEPT)]
            assert all(isinstance(event, ChatEvent) for event in kept)
            assert [(e.seq, e.text) for e in kept] == [
                (sent[n], f"m{n}") for n in range(SENT - KEPT, SENT)
            ]
            with pytest.raises(Timeout):
                await reader.next_event(0)
            assert reader.dropped_events == SENT - KEPT

    asyncio.run(asyncio.wait_for(main(), 45))
