"""RoomSequencer: every room event delivered once, in seq order, gaps filled from
history pages."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zmqchat.client.core.sequencer import RoomSequencer
from zmqchat.common.messages import ChatEvent, PresenceEvent, RoomEvent

ROOM = "general"


def ev(seq: int) -> RoomEvent:
    if seq % 5 == 0:
        return PresenceEvent(room=ROOM, seq=seq, user="bob", event="join", ts=float(seq))
    return ChatEvent(room=ROOM, seq=seq, sender="alice", text=f"m{seq}", ts=float(seq))


def page(
    after: int, limit: int, head: int, missing: frozenset[int] = frozenset()
) -> tuple[list[RoomEvent], bool]:
    """What ``history after=<after> limit=<limit>`` returns from a store holding 1..head."""
    stored = [s for s in range(after + 1, head + 1) if s not in missing]
    return [ev(s) for s in stored[:limit]], len(stored) > limit


def feed(seq: RoomSequencer, *seqs: int) -> list[int]:
    out: list[int] = []
    for s in seqs:
        out += [e.seq for e in seq.on_event(ev(s))]
    return out


def test_in_order_events_are_delivered_at_once() -> None:
    seq = RoomSequencer(ROOM, 0)
    assert feed(seq, 1) == [1]
    assert feed(seq, 2, 3) == [2, 3]
    assert seq.last == 3
    assert seq.fetch_from() is None
    assert seq.buffer == {}


def test_delivered_events_are_the_same_objects() -> None:
    seq = RoomSequencer(ROOM, 4)
    event = ev(5)
    assert seq.on_event(event) == [event]


def test_duplicates_are_dropped() -> None:
    seq = RoomSequencer(ROOM, 0)
    assert feed(seq, 1, 2, 2, 1, 3, 3) == [1, 2, 3]
    # a duplicate of a buffered event is not delivered twice either
    assert feed(seq, 5, 5) == []
    assert seq.on_history([ev(4), ev(5)], False) == [ev(4), ev(5)]
    assert feed(seq, 4, 5) == []


def test_a_gap_buffers_later_events_and_asks_for_history_once() -> None:
    seq = RoomSequencer(ROOM, 0)
    assert feed(seq, 1) == [1]
    assert feed(seq, 4, 3) == []
    assert sorted(seq.buffer) == [3, 4]
    assert seq.fetch_from() == 1
    assert seq.fetch_from() is None  # a fetch is under way
    assert feed(seq, 6) == []
    assert seq.fetch_from() is None


def test_history_fills_the_gap_and_releases_the_buffer_in_order() -> None:
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 1, 4, 6, 5)
    assert seq.fetch_from() == 1
    out = seq.on_history(*page(1, 500, 6))
    assert [e.seq for e in out] == [2, 3, 4, 5, 6]
    assert seq.last == 6
    assert seq.buffer == {}
    assert seq.fetch_from() is None
    assert feed(seq, 7) == [7]


def test_history_with_more_leads_to_another_fetch() -> None:
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 10)
    assert seq.fetch_from() == 0
    out = seq.on_history(*page(0, 4, 10))
    assert [e.seq for e in out] == [1, 2, 3, 4]
    assert seq.fetch_from() == 4
    out = seq.on_history(*page(4, 4, 10))
    assert [e.seq for e in out] == [5, 6, 7, 8]
    assert seq.fetch_from() == 8
    out = seq.on_history(*page(8, 4, 10))
    assert [e.seq for e in out] == [9, 10]
    assert seq.fetch_from() is None


def test_live_events_that_fill_the_gap_during_a_fetch_are_not_repeated() -> None:
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 1, 3)
    assert seq.fetch_from() == 1
    assert feed(seq, 2) == [2, 3]  # the late event arrived after all
    assert seq.on_history(*page(1, 500, 3)) == []
    assert seq.last == 3
    assert seq.fetch_from() is None


def test_a_head_above_last_triggers_a_fetch_without_a_live_event() -> None:
    seq = RoomSequencer(ROOM, 3)
    seq.on_head(3)
    assert seq.fetch_from() is None
    seq.on_head(2)  # an older head changes nothing
    assert seq.fetch_from() is None
    seq.on_head(5)
    assert seq.fetch_from() == 3
    assert [e.seq for e in seq.on_history(*page(3, 500, 5))] == [4, 5]
    assert seq.fetch_from() is None


def test_events_before_start_are_buffered_and_stale_ones_discarded() -> None:
    seq = RoomSequencer(ROOM)
    assert seq.last is None
    assert feed(seq, 3, 5, 6, 4) == []
    assert seq.fetch_from() is None  # no starting point yet
    assert seq.on_history([ev(1)], False) == []  # no starting point: ignored
    out = seq.start(4)
    assert [e.seq for e in out] == [5, 6]
    assert 3 not in seq.buffer
    assert seq.last == 6
    assert seq.fetch_from() is None


def test_start_with_a_gap_to_the_buffered_events_fetches() -> None:
    seq = RoomSequencer(ROOM)
    feed(seq, 9)
    assert seq.start(6) == []
    assert seq.fetch_from() == 6
    assert [e.seq for e in seq.on_history(*page(6, 500, 9))] == [7, 8, 9]


def test_a_hole_the_store_does_not_have_is_skipped_after_an_empty_reply() -> None:
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 1, 5, 6)
    assert seq.fetch_from() == 1
    # the store has nothing after 1 but what we already hold... and nothing in 2..4
    out = seq.on_history([], False)
    assert [e.seq for e in out] == [5, 6]
    assert seq.last == 6
    assert seq.fetch_from() is None
    assert feed(seq, 7) == [7]


def test_an_announced_head_the_store_does_not_have_stops_the_fetching() -> None:
    seq = RoomSequencer(ROOM, 2)
    seq.on_head(4)
    assert seq.fetch_from() == 2
    assert seq.on_history([], False) == []
    assert seq.last == 2
    assert seq.fetch_from() is None  # no endless refetching


def test_fetch_failed_allows_a_new_fetch() -> None:
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 2)
    assert seq.fetch_from() == 0
    assert seq.fetch_from() is None
    seq.fetch_failed()
    assert seq.fetch_from() == 0


def test_empty_history_with_more_does_not_skip() -> None:
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 3)
    seq.fetch_from()
    assert seq.on_history([], True) == []
    assert seq.last == 0
    assert seq.fetch_from() == 0


def test_a_hole_before_the_events_of_a_history_page_is_skipped() -> None:
    # The store lacks 2..3 but has 4..6. A page after 1 is contiguous from `after`, so
    # [4, 5, 6] proves 2..3 are not in the store, just as an empty page would.
    seq = RoomSequencer(ROOM, 0)
    feed(seq, 1, 6)
    assert seq.fetch_from() == 1
    out = seq.on_history(*page(1, 500, 6, missing=frozenset({2, 3})))
    assert [e.seq for e in out] == [4, 5, 6]
    assert seq.fetch_from() is None


# --------------------------------------------------------------------- property


@st.composite
def schedules(draw: st.DrawFn) -> tuple[int, list[int], list[int], int]:
    """N; live arrivals (any order, duplicates, drops); interleaving choices; page size."""
    n = draw(st.integers(min_value=1, max_value=40))
    kept = draw(st.lists(st.integers(min_value=1, max_value=n), max_size=3 * n))
    choices = draw(st.lists(st.integers(min_value=0, max_value=3), max_size=6 * n))
    limit = draw(st.integers(min_value=1, max_value=8))
    return n, kept, choices, limit


@settings(max_examples=300, deadline=None)
@given(schedules(), st.integers(min_value=0, max_value=5))
def test_any_arrival_pattern_delivers_everything_once_in_order(
    schedule: tuple[int, list[int], list[int], int], start: int
) -> None:
    n, live, choices, limit = schedule
    start = min(start, n)
    seq = RoomSequencer(ROOM)
    delivered: list[int] = []
    outstanding: int | None = None  # `after` of the history request in flight
    started = False
    live_iter = iter(live)

    def answer() -> None:
        nonlocal outstanding
        assert outstanding is not None
        after, outstanding = outstanding, None
        delivered.extend(e.seq for e in seq.on_history(*page(after, limit, n)))

    def maybe_fetch() -> None:
        nonlocal outstanding
        after = seq.fetch_from()
        if after is not None:
            assert outstanding is None, "a second fetch while one is in flight"
            outstanding = after

    # Interleave: 0/1 a live event, 2 answer the fetch in flight, 3 start (join reply).
    for choice in choices:
        if choice in (0, 1):
            nxt = next(live_iter, None)
            if nxt is not None:
                delivered.extend(e.seq for e in seq.on_event(ev(nxt)))
        elif choice == 2 and outstanding is not None:
            answer()
        elif choice == 3 and not started:
            started = True
            delivered.extend(e.seq for e in seq.start(start))
        maybe_fetch()
    if not started:
        delivered.extend(e.seq for e in seq.start(start))
    for s in live_iter:
        delivered.extend(e.seq for e in seq.on_event(ev(s)))
        maybe_fetch()
    if outstanding is not None:
        answer()
    # Finally a pong tells the head; fetch until nothing is missing.
    seq.on_head(n)
    for _ in range(2 * n + 2):
        maybe_fetch()
        if outstanding is None:
            break
        answer()
    assert outstanding is None
    assert delivered == list(range(start + 1, n + 1))
    assert seq.last == n
    assert seq.buffer == {}
