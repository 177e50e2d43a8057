"""Room events in Redis: one atomic script per room batch takes the next seqs,
appends the events to the room's stream, records their retry keys and publishes
them (issue 17; docs/scaling.md).

Doing all four in one script is what keeps a room gap-free and in order across
nodes: taking a seq and publishing in separate calls leaves a hole when a node dies
between them, and lets two nodes publish a room's events out of order.

A room's events are stored as the frames subscribers get: the node encodes each
event once with a placeholder seq (:func:`seq_slot` finds its 8 bytes), and the
script writes the seq into them, so no node decodes an event to publish it.

Keys, with the room as the hash tag so that one room's keys share a Redis Cluster
slot: ``zc:r:{ROOM}:seq`` (the last seq), ``:log`` (the stream, one entry per
event, id ``SEQ-0``), ``:epoch`` (see :class:`Appended`), ``:retry:SID:REF``
(the seq a request got, for its retries) and the channel ``:ev``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from typing import Any, Final

import redis

# A seq as msgpack writes the largest uint64: the placeholder the script overwrites.
_PLACEHOLDER: Final = b"\xa3seq\xcf" + b"\xff" * 8
MAX_BATCH: Final = 1000  # events per script call: a longer call stalls every node's Redis

_APPEND: Final = """
local seq_key, log_key, epoch_key = KEYS[1], KEYS[2], KEYS[3]
local epoch = redis.call('GET', epoch_key)
if not epoch then
  -- A room this Redis has never seen, or has lost: a new epoch, so that a seq the
  -- clients already saw is never handed out again without them noticing.
  redis.call('DEL', seq_key, log_key)
  redis.call('SET', epoch_key, ARGV[1])
  epoch = ARGV[1]
end
local ttl = tonumber(ARGV[3])
local result, bodies, first = {}, {}, nil
local a = 4
for i = 1, (#ARGV - 3) / 3 do
  local retry, slot, body = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  a = a + 3
  local seq = false
  if retry > 0 then seq = redis.call('GET', KEYS[retry]) end
  if seq then
    result[i] = -tonumber(seq)
  else
    seq = redis.call('INCR', seq_key)
    body = string.sub(body, 1, slot) .. struct.pack('>I8', seq) .. string.sub(body, slot + 9)
    redis.call('XADD', log_key, seq .. '-0', 'e', body)
    if retry > 0 then redis.call('SET', KEYS[retry], seq, 'EX', ttl) end
    result[i] = seq
    first = first or seq
    bodies[#bodies + 1] = body
  end
end
if first then redis.call('PUBLISH', ARGV[2], cmsgpack.pack({epoch, first, bodies})) end
return {epoch, result}
"""


def seq_slot(frame: bytes) -> int:
    """Where the seq's 8 bytes are in an event encoded with seq ``2**64 - 1``.

    The first match is the seq: it comes before any field a user writes bytes into
    (the room and names before it are UTF-8, which has no 0xff byte)."""
    at = frame.find(_PLACEHOLDER)
    if at < 0:
        raise ValueError("the event has no placeholder seq (encode it with seq 2**64 - 1)")
    return at + len(_PLACEHOLDER) - 8


def key(room: str, part: str) -> str:
    return f"zc:r:{{{room}}}:{part}"


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A room event to append: its frame with the placeholder seq, and the request it
    answers (``SID:REF``) if that request may be retried."""

    frame: bytes
    retry: str | None = None


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

    def append(self, room: str, events: Sequence[Event]) -> Appended:
        """Append ``events`` to ``room`` in one atomic call."""
        if not events or len(events) > MAX_BATCH:
            raise ValueError(f"append 1 to {MAX_BATCH} events at a time, not {len(events)}")
        keys = [key(room, "seq"), key(room, "log"), key(room, "epoch")]
        args: list[Any] = [secrets.token_hex(8), key(room, "ev"), self.retry_ttl]
        for event in events:
            if event.retry is None:
                args.append(0)
            else:
                keys.append(key(room, f"retry:{event.retry}"))
                args.append(len(keys))
            args += [seq_slot(event.frame), event.frame]
        epoch, result = self._append(keys=keys, args=args)
        return Appended(
            epoch=epoch.decode(),
            seqs=tuple(abs(int(seq)) for seq in result),
            retried=tuple(int(seq) < 0 for seq in result),
        )

    def read(self, room: str, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` events of ``room`` after seq ``after``, oldest first."""
        # redis-py types its replies as any of a sync or an async client's.
        entries: Any = self.client.xrange(key(room, "log"), f"({after}-0", "+", count=limit)
        return [(int(entry_id.split(b"-")[0]), fields[b"e"]) for entry_id, fields in entries]

    def head(self, room: str) -> tuple[str | None, int]:
        """The room's epoch (None: never written) and its last seq."""
        reply: Any = self.client.mget([key(room, "epoch"), key(room, "seq")])
        epoch, seq = reply
        return (None if epoch is None else epoch.decode()), int(seq or 0)
