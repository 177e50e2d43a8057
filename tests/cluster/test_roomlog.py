"""Room events in a real Redis (issue 17): one script call per batch numbers,
stores, de-duplicates and publishes; a node's feed gives each room's events in seq
order with nothing missing and nothing twice, whatever pub/sub dropped."""

from __future__ import annotations

import threading

import msgpack
import pytest
import redis

from zmqchat.broker.cluster import follow
from zmqchat.broker.cluster.feed import Batch, Feed
from zmqchat.broker.cluster.records import RecordLog
from zmqchat.broker.cluster.roomlog import Event, RoomLog, key, with_seq
from zmqchat.common.codec import decode_message, encode
from zmqchat.common.messages import ChatEvent
from zmqchat.testing import wait_until
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)

PLACEHOLDER = 2**64 - 1


def chat(text: str, room: str = "general", retry: str | None = None) -> Event:
    frame = encode(ChatEvent(room=room, seq=PLACEHOLDER, sender="al", text=text, ts=1.5))
    return Event(frame, retry)


def seq_and_text(frame: bytes) -> tuple[int, str]:
    event = decode_message(frame)
    assert isinstance(event, ChatEvent)
    return event.seq, event.text


def test_an_append_numbers_stores_and_publishes_in_one_call(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    listener = engine.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(key("general", "ev"))
    wait_until(lambda: engine.pubsub_numsub(key("general", "ev"))[0][1] == 1, 5, "subscribed")

    done = log.append("general", [chat("a"), chat("b"), chat("c")])

    assert done.seqs == (1, 2, 3)
    assert done.retried == (False, False, False)
    stored = log.read("general", 0, 10)
    assert [seq for seq, _ in stored] == [1, 2, 3]
    assert [seq_and_text(frame) for _, frame in stored] == [(1, "a"), (2, "b"), (3, "c")]
    message = wait_until(lambda: listener.get_message(timeout=0.1), 5, "the published batch")
    epoch, first, frames = msgpack.unpackb(message["data"], raw=True)
    assert (epoch.decode(), first) == (done.epoch, 1)
    # Published as stored: the seq is written in by the reader.
    assert [with_seq(frame, 1 + i) for i, frame in enumerate(frames)] == [f for _, f in stored]
    assert log.head("general") == (done.epoch, 3)
    assert log.read("general", 2, 10) == stored[2:]
    listener.close()


def test_a_retried_request_gets_its_first_seq_back_and_nothing_new(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    first = log.append("general", [chat("once", retry="s1:7")])
    again = log.append("general", [chat("once", retry="s1:7"), chat("new", retry="s1:8")])

    assert first.seqs == (1,)
    assert again.seqs == (1, 2)
    assert again.retried == (True, False)
    assert [seq_and_text(frame) for _, frame in log.read("general", 0, 10)] == [
        (1, "once"),
        (2, "new"),
    ]
    (kept,) = engine.keys(key("general", "retry:*"))
    assert 0 < engine.ttl(kept) <= 2 * log.retry_ttl  # forgotten after one or two periods


def test_a_request_twice_in_one_batch_is_stored_once(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    done = log.append("general", [chat("a", retry="s1:1"), chat("b"), chat("a", retry="s1:1")])
    assert done.seqs == (1, 2, 1)
    assert done.retried == (False, False, True)
    assert log.head("general")[1] == 2


def test_two_writers_on_one_room_leave_no_gap(redis_server) -> None:
    per_writer, batch = 1500, 50

    def write(name: str) -> None:
        client = redis.Redis.from_url(redis_server.url)
        log = RoomLog(client)
        for start in range(0, per_writer, batch):
            log.append("busy", [chat(f"{name}{i}", "busy") for i in range(start, start + batch)])
        client.close()

    writers = [threading.Thread(target=write, args=(name,)) for name in "xy"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(50)

    log = RoomLog(redis.Redis.from_url(redis_server.url))
    stored = log.read("busy", 0, 10 * per_writer)
    assert [seq for seq, _ in stored] == list(range(1, 2 * per_writer + 1))
    events = [seq_and_text(frame) for _, frame in stored]
    assert [seq for seq, _ in events] == [seq for seq, _ in stored]  # the frames' own seqs
    for name in "xy":
        mine = [text for _, text in events if text.startswith(name)]
        assert mine == [f"{name}{i}" for i in range(per_writer)]  # each writer's order kept


def test_a_room_redis_lost_starts_a_new_epoch(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    before = log.append("general", [chat("a"), chat("b")])
    engine.flushall()
    after = log.append("general", [chat("c")])
    assert after.seqs == (1,)
    assert after.epoch != before.epoch


def test_appends_are_bounded(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    with pytest.raises(ValueError, match="1 to 1000"):
        log.append("general", [])
    compact = encode(ChatEvent(room="general", seq=5, sender="al", text="x", ts=1.0))
    with pytest.raises(ValueError, match="placeholder"):
        log.append("general", [Event(compact)])


# ------------------------------------------------------------------------- feed


def texts(batches: list[Batch]) -> list[tuple[int, str]]:
    out = []
    for batch in batches:
        for i, frame in enumerate(batch.frames):
            seq, text = seq_and_text(frame)
            assert seq == batch.first + i
            out.append((seq, text))
    return out


def poll_until(feed: Feed, count: int) -> list[Batch]:
    got: list[Batch] = []

    def enough() -> bool:
        got.extend(feed.poll(0.05))
        return sum(len(b.frames) for b in got) >= count

    wait_until(enough, 10, f"{count} events from the feed")
    return got


def test_the_feed_gives_what_is_stored_after_a_seq_then_what_comes(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    log.append("general", [chat("a"), chat("b"), chat("c")])
    feed = Feed(engine)
    assert texts(feed.subscribe("general", after=1)) == [(2, "b"), (3, "c")]
    log.append("general", [chat("d")])
    assert texts(poll_until(feed, 1)) == [(4, "d")]
    assert feed.poll(0.1) == []
    feed.close()


def test_the_feed_refills_what_pubsub_dropped(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    feed = Feed(engine)
    channel = key("general", "ev")
    assert feed.subscribe("general") == []
    log.append("general", [chat("a")])
    assert texts(poll_until(feed, 1)) == [(1, "a")]

    # Redis drops the node's subscription: what is published meanwhile never arrives.
    engine.client_kill_filter(_type="pubsub")
    wait_until(lambda: engine.pubsub_numsub(channel)[0][1] == 0, 5, "the subscription gone")
    log.append("general", [chat("b"), chat("c")])
    # The feed notices at its next poll, subscribes again and reads what it missed.
    got = poll_until(feed, 2)
    assert engine.pubsub_numsub(channel)[0][1] == 1
    log.append("general", [chat("d")])
    got += poll_until(feed, 1)
    assert texts(got) == [(2, "b"), (3, "c"), (4, "d")]
    feed.close()


def test_the_feed_says_when_redis_lost_a_room(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    feed = Feed(engine)
    log.append("general", [chat("a"), chat("b")])
    feed.subscribe("general")
    engine.flushall()
    log.append("general", [chat("c")])
    (batch,) = poll_until(feed, 1)
    assert batch.epoch_changed
    assert texts([batch]) == [(1, "c")]
    feed.close()


def test_the_feed_carries_on_after_redis_restarts(tmp_path) -> None:
    # The append-only file with appendfsync always: what was acknowledged survives.
    with RedisProcess(tmp_path / "aof", appendfsync="always") as server:
        client = redis.Redis.from_url(server.url)
        log, feed = RoomLog(client), Feed(client)
        feed.subscribe("general")
        before = log.append("general", [chat("a")])
        assert texts(poll_until(feed, 1)) == [(1, "a")]
        server.kill()
        with pytest.raises(redis.ConnectionError):
            feed.poll(0.05)
        with pytest.raises(redis.ConnectionError):
            feed.poll(0.05)  # still down: still said
        server.restart()
        after = log.append("general", [chat("b")])
        assert (after.epoch, after.seqs) == (before.epoch, (2,))
        assert texts(poll_until(feed, 1)) == [(2, "b")]
        feed.close()
        client.close()


def test_a_redis_that_lost_a_room_numbers_on_from_the_writers_floor(engine: redis.Redis) -> None:
    log = RoomLog(engine)
    first = log.append("general", [chat("a"), chat("b")])
    assert first.seqs == (1, 2)
    engine.flushall()  # Redis lost everything (no persistence, restarted)
    # A node that holds seqs 1 and 2 of the room writes next: no seq is given twice,
    # and the new epoch says the stream starts over.
    again = log.append("general", [chat("c")], floor=2)
    assert again.seqs == (3,)
    assert again.epoch != first.epoch
    # A counter that went back (the last writes lost, appendfsync everysec) too.
    engine.set(key("general", "seq"), 1)
    assert log.append("general", [chat("d")], floor=3).seqs == (4,)


def test_a_room_followed_is_subscribed_at_once_not_after_the_feeds_poll(
    engine: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The feed's thread blocks on Redis for POLL at a time; a join of a room its
    # node did not follow waits for its own event through it. Made longer than the
    # wait below, so only follow()'s wake-up can bring the room's events in time.
    monkeypatch.setattr(follow, "POLL", 30.0)
    log = RoomLog(engine)
    follower = follow.Follower(engine)
    try:
        # As a node's: with the records to follow, the thread's poll blocks.
        follower.read_records(RecordLog(engine, "n"), "0-0")
        follower.follow("general", 0)
        subscribed = key("general", "ev")
        wait_until(lambda: engine.pubsub_numsub(subscribed)[0][1] == 1, 5, "subscribed")
        log.append("dev", [chat("a", room="dev")])
        follower.follow("dev", 0)
        got: list[Batch] = []
        wait_until(lambda: got.extend(follower.take()) or got, 5, "the new room's events")
        assert texts(got) == [(1, "a")]
    finally:
        follower.close()
