"""Room events in Redis: one atomic script per room batch takes the next seqs,
appends the events to the room's stream, records their retry keys and publishes
them (issue 17; docs/scaling.md).

Doing all four in one script is what keeps a room gap-free and in order across
nodes: taking a seq and publishing in separate calls leaves a hole when a node dies
between them, and lets two nodes publish a room's events out of order.

A room's events are stored as the frames subscribers get, but for the seq: the node
encodes each event once with a placeholder seq (:func:`seq_slot` finds its 8 bytes),
and whoever reads it writes the seq in (:func:`with_seq`), so no node decodes an
event to publish it.

Keys, with the room as the hash tag so that one room's keys share a Redis Cluster
slot: ``zc:r:{ROOM}:seq`` (the last seq), ``:log`` (the stream, one entry per
event, id ``SEQ-0``), ``:epoch`` (see :class:`Appended`), ``:retry:PERIOD``
(the seqs requests got, for their retries: a hash per period), ``:kept`` (set once
anything but a join or leave happened: the room is never forgotten), ``:public``
(cleared by an append: see :mod:`.access`, which also keeps ``:private``, a room
never forgotten either) and the channel ``:ev``.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Sequence
from typing import Any, Final

import redis

# A seq as msgpack writes the largest uint64: the placeholder the script overwrites.
_PLACEHOLDER: Final = b"\xa3seq\xcf" + b"\xff" * 8
MAX_BATCH: Final = 1000  # events per script call: a longer call stalls every node's Redis

# Redis's CPU is what every node shares, so the script does as little per event as
# it can: one INCRBY and one HSET per batch, one XADD per event; the seq is written
# into the frames by whoever reads them (:func:`with_seq`), not here.
_APPEND: Final = """
local seq_key, log_key, epoch_key, retry_now, retry_old, kept_key, public_key = unpack(KEYS)
-- The room exists now by its seq: the marker of a check awaiting this is done.
redis.call('DEL', public_key)
local epoch = redis.call('GET', epoch_key)
if not epoch then
  -- A room this Redis has never seen, or has lost: a new epoch, so that nodes and
  -- clients can tell the stream starts over.
  redis.call('DEL', seq_key, log_key)
  redis.call('SET', epoch_key, ARGV[1])
  epoch = ARGV[1]
end
-- The floor: the last seq the writing node holds. A Redis that lost the room, or
-- its last writes (appendfsync everysec), numbers on from there, never again from a
-- seq that node has given out.
local floor = tonumber(ARGV[4])
if floor > 0 and tonumber(redis.call('GET', seq_key) or '0') < floor then
  redis.call('SET', seq_key, floor)
end
if ARGV[5] == '1' then redis.call('SET', kept_key, 1) end
local n = (#ARGV - 5) / 2
local fields = {}
for i = 1, n do
  local field = ARGV[4 + 2 * i]
  if field ~= '' then fields[#fields + 1] = field end
end
local known = {}
if #fields > 0 then
  local now = redis.call('HMGET', retry_now, unpack(fields))
  local old = redis.call('HMGET', retry_old, unpack(fields))
  for j = 1, #fields do
    local seq = now[j] or old[j]
    if seq then known[fields[j]] = tonumber(seq) end
  end
end
local new, counted = 0, {}
for i = 1, n do
  local field = ARGV[4 + 2 * i]
  if field == '' then
    new = new + 1
  elseif not known[field] and not counted[field] then
    counted[field] = true
    new = new + 1
  end
end
local seq = 0
if new > 0 then seq = redis.call('INCRBY', seq_key, new) - new end
local first = seq + 1
local result, frames, remember = {}, {}, {}
for i = 1, n do
  local field, frame = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if field ~= '' and known[field] then
    result[i] = -known[field]
  else
    seq = seq + 1
    redis.call('XADD', log_key, seq .. '-0', 'e', frame)
    if field ~= '' then
      known[field] = seq
      remember[#remember + 1] = field
      remember[#remember + 1] = seq
    end
    result[i] = seq
    frames[#frames + 1] = frame
  end
end
if #remember > 0 then
  redis.call('HSET', retry_now, unpack(remember))
  redis.call('EXPIRE', retry_now, 2 * tonumber(ARGV[3]))
end
if #frames > 0 then redis.call('PUBLISH', ARGV[2], cmsgpack.pack({epoch, first, frames})) end
return {epoch, result}
"""


# KEYS[6], KEYS[7]: a private room, and one a node let someone into a moment ago
# whose event is not appended yet (access.py), are not forgotten.
_FORGET: Final = """
if redis.call('EXISTS', KEYS[1], KEYS[6], KEYS[7]) > 0 or redis.call('HLEN', KEYS[2]) > 0 then
  return 0
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
return 1
"""


def seq_slot(frame: bytes) -> int:
    """Where the seq's 8 bytes are in an event encoded with seq ``2**64 - 1``.

    The first match is the seq: it comes before any field a user writes bytes into
    (the room and names before it are UTF-8, which has no 0xff byte)."""
    at = frame.find(_PLACEHOLDER)
    if at < 0:
        raise ValueError("the event has no placeholder seq (encode it with seq 2**64 - 1)")
    return at + len(_PLACEHOLDER) - 8


def with_seq(frame: bytes, seq: int) -> bytes:
    """``frame`` (stored with the placeholder seq) with its seq written in."""
    slot = seq_slot(frame)
    return frame[:slot] + seq.to_bytes(8, "big") + frame[slot + 8 :]


def key(room: str, part: str) -> str:
    return f"zc:r:{{{room}}}:{part}"


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A room event to append: its frame with the placeholder seq, and the request it
    answers (``SID:REF``) if that request may be retried."""

    frame: bytes
    retry: str | None = None
    kept: bool = True  # it makes the room worth keeping (anything but a join or leave)


@dataclasses.dataclass(frozen=True, slots=True)
class Appended:
    """What an append did. ``epoch`` names the room's life in this Redis: it changes
    when Redis lost the room, and seqs then start again at 1. ``seqs`` per event:
    the seq it got, or the one its first try got (``retried``)."""

    epoch: str
    seqs: tuple[int, ...]
    retried: tuple[bool, ...]


class RoomLog:
    """Appends and reads rooms' events in one Redis."""

    def __init__(self, client: redis.Redis, *, retry_ttl: int = 3600) -> None:
        self.client = client
        self.retry_ttl = retry_ttl
        self._append = client.register_script(_APPEND)
        self._forget = client.register_script(_FORGET)

    def append(self, room: str, events: Sequence[Event], floor: int = 0) -> Appended:
        """Append ``events`` to ``room`` in one atomic call, numbered after ``floor``
        at least (the last seq the caller holds of the room)."""
        if not events or len(events) > MAX_BATCH:
            raise ValueError(f"append 1 to {MAX_BATCH} events at a time, not {len(events)}")
        # Retry keys live in one hash per period of retry_ttl, the current one and the
        # one before: a retry is recognised for between one and two periods.
        period = int(time.time() // self.retry_ttl)
        keys = [
            key(room, "seq"),
            key(room, "log"),
            key(room, "epoch"),
            key(room, f"retry:{period}"),
            key(room, f"retry:{period - 1}"),
            key(room, "kept"),
            key(room, "public"),
        ]
        kept = "1" if any(event.kept for event in events) else "0"
        args: list[Any] = [secrets.token_hex(8), key(room, "ev"), self.retry_ttl, floor, kept]
        for event in events:
            seq_slot(event.frame)  # refused here, not half-way through the script
            args += [event.retry or "", event.frame]
        epoch, result = self._append(keys=keys, args=args)
        return Appended(
            epoch=epoch.decode(),
            seqs=tuple(abs(int(seq)) for seq in result),
            retried=tuple(int(seq) < 0 for seq in result),
        )

    def forget(self, room: str) -> bool:
        """Forget ``room`` if nothing but joins and leaves happened in it and no node
        has a member in it (see broker/forgetting.py): a later join starts it over."""
        return bool(self._forget(keys=[key(room, "kept"), key(room, "members"), key(room, "seq"),
                                       key(room, "log"), key(room, "epoch"), key(room, "private"),
                                       key(room, "public")]))  # fmt: skip

    def read(self, room: str, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` events of ``room`` after seq ``after``, oldest first."""
        # redis-py types its replies as any of a sync or an async client's.
        entries: Any = self.client.xrange(key(room, "log"), f"({after}-0", "+", count=limit)
        out = []
        for entry_id, fields in entries:
            seq = int(entry_id.split(b"-")[0])
            out.append((seq, with_seq(fields[b"e"], seq)))
        return out

    def head(self, room: str) -> tuple[str | None, int]:
        """The room's epoch (None: never written) and its last seq."""
        reply: Any = self.client.mget([key(room, "epoch"), key(room, "seq")])
        epoch, seq = reply
        return (None if epoch is None else epoch.decode()), int(seq or 0)
