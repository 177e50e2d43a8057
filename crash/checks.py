"""What the crash test counts, from the load processes' records and the store.

Pure: :func:`check` takes the records of every program, the room history read back
from the broker, and what the driver saw after each restart, and returns
:class:`Counts`. Every count named in :attr:`Counts.failures` must be 0.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Record = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Restart:
    """One kill and restart, and which load users came back how."""

    resumed: frozenset[str]  # back on the same session
    fresh: frozenset[str]  # back, but under a new session (registered again)
    missing: frozenset[str]  # not back within the time allowed
    restart_seconds: float = 0.0  # from the kill until the new broker served
    back_seconds: float = 0.0  # from the kill until the last load user was back


@dataclasses.dataclass
class Counts:
    chats_acked: int = 0
    chats_lost: int = 0  # acked, but not in the room's history with its text
    chat_seqs_reused: int = 0  # one (room, seq), two texts
    chat_duplicates: int = 0  # one (room, seq) delivered twice to one client
    chats_out_of_order: int = 0  # stored before a chat its client had sent earlier
    chats_delivered: int = 0
    pms_acked: int = 0
    pms_lost: int = 0  # acked, but neither received nor in the recipient's history
    pm_ids_reused: int = 0  # one id, two texts
    pm_duplicates: int = 0  # one id delivered twice to one client
    pms_delivered: int = 0
    pms_twice_by_text: int = 0  # one text delivered to one client under two ids
    pms_never_acked: int = 0  # delivered and stored nowhere: a sender's retry got a new id
    restarts: int = 0
    resumptions: int = 0  # load users that came back on their session after a restart
    not_resumed: int = 0  # ... that came back under a new session, or not at all
    sessions_lost: int = 0  # a client's library closed without being asked to
    refused: Mapping[str, int] = dataclasses.field(default_factory=dict)
    fresh_registers: int = 0
    registers_refused: int = 0  # a fresh register that never got its session
    load_failures: int = 0  # load processes that broke or did not end cleanly
    dropped_events: int = 0  # events the library dropped because nobody read them

    @property
    def failures(self) -> dict[str, int]:
        """The counts that must be 0."""
        return {
            "chats lost": self.chats_lost,
            "chat seqs reused": self.chat_seqs_reused,
            "chat duplicates": self.chat_duplicates,
            "chats out of sent order": self.chats_out_of_order,
            "pms lost": self.pms_lost,
            "pm ids reused": self.pm_ids_reused,
            "pm duplicates": self.pm_duplicates,
            "sessions not resumed": self.not_resumed + self.sessions_lost,
            "registers refused": self.registers_refused,
            "load failures": self.load_failures + self.dropped_events,
        }

    @property
    def ok(self) -> bool:
        return not any(self.failures.values())


def check(
    programs: Mapping[str, Sequence[Record]],
    history: Mapping[str, Iterable[tuple[int, str]]],
    restarts: Sequence[Restart] = (),
    *,
    failed_programs: int = 0,
    dropped_events: int = 0,
) -> Counts:
    """Count losses, reuse, duplicates and sessions that did not come back.

    ``programs``: the records of each load process (:mod:`crash.records`);
    ``history``: every chat the store holds, (seq, text) by room.
    """
    counts = Counts(restarts=len(restarts), load_failures=failed_programs)
    counts.dropped_events = dropped_events
    records = [r for lines in programs.values() for r in lines]
    stored = {room: dict(chats) for room, chats in history.items()}
    _check_chats(counts, programs, records, stored)
    _check_pms(counts, programs, records)
    _check_sessions(counts, records, restarts)
    refused: collections.Counter[str] = collections.Counter(
        f"{r['op']} {r['error']}" for r in records if r["k"] == "refused"
    )
    counts.refused = dict(refused.most_common())
    counts.fresh_registers = sum(1 for r in records if r["k"] == "fresh")
    counts.registers_refused = sum(
        1 for r in records if r["k"] == "refused" and r["op"] == "register"
    )
    counts.load_failures += sum(1 for r in records if r["k"] == "failed")
    return counts


def _texts_by_id(pairs: Iterable[tuple[Any, str]]) -> dict[Any, set[str]]:
    texts: dict[Any, set[str]] = collections.defaultdict(set)
    for key, text in pairs:
        texts[key].add(text)
    return texts


def _duplicates(keys: Iterable[Any]) -> int:
    """How many deliveries repeat one already made."""
    seen: collections.Counter[Any] = collections.Counter(keys)
    return sum(n - 1 for n in seen.values())


def _check_chats(
    counts: Counts,
    programs: Mapping[str, Sequence[Record]],
    records: Sequence[Record],
    stored: Mapping[str, Mapping[int, str]],
) -> None:
    acks = [r for r in records if r["k"] == "chat_ack"]
    counts.chats_acked = len(acks)
    counts.chats_lost = sum(1 for a in acks if stored.get(a["room"], {}).get(a["seq"]) != a["text"])
    delivered = [r for r in records if r["k"] == "chat"]
    counts.chats_delivered = len(delivered)
    texts = _texts_by_id(
        [((a["room"], a["seq"]), a["text"]) for a in (*acks, *delivered)]
        + [((room, seq), text) for room, chats in stored.items() for seq, text in chats.items()]
    )
    counts.chat_seqs_reused = sum(1 for t in texts.values() if len(t) > 1)
    for lines in programs.values():
        counts.chat_duplicates += _duplicates(
            (r["c"], r["room"], r["seq"]) for r in lines if r["k"] == "chat"
        )
    # A client's chats in one room are numbered in the order it sent them; a retry
    # after a restart must not put a later one first.
    sent: dict[tuple[str, str], list[tuple[int, int]]] = collections.defaultdict(list)
    for a in acks:
        sent[a["c"], a["room"]].append((a["n"], a["seq"]))
    for chats in sent.values():
        seqs = [seq for _, seq in sorted(chats)]
        counts.chats_out_of_order += sum(1 for a, b in itertools.pairwise(seqs) if b < a)


def _check_pms(
    counts: Counts, programs: Mapping[str, Sequence[Record]], records: Sequence[Record]
) -> None:
    acks = [r for r in records if r["k"] == "pm_ack"]
    counts.pms_acked = len(acks)
    delivered = [r for r in records if r["k"] == "pm"]
    counts.pms_delivered = len(delivered)
    kept = [r for r in records if r["k"] == "stored_pm"]
    # What each recipient holds, by the lower-case name the broker compares.
    holds: dict[str, set[int]] = collections.defaultdict(set)
    for r in (*delivered, *kept):
        holds[r["c"].lower()].add(r["id"])
    counts.pms_lost = sum(1 for a in acks if a["id"] not in holds[a["to"].lower()])
    texts = _texts_by_id((r["id"], r["text"]) for r in (*acks, *delivered, *kept))
    counts.pm_ids_reused = sum(1 for t in texts.values() if len(t) > 1)
    acked_or_kept = {r["id"] for r in (*acks, *kept)}
    counts.pms_never_acked = len({r["id"] for r in delivered} - acked_or_kept)
    for lines in programs.values():
        pms = [r for r in lines if r["k"] == "pm"]
        counts.pm_duplicates += _duplicates((r["c"], r["id"]) for r in pms)
        ids_of_text = _texts_by_id(((r["c"], r["text"]), str(r["id"])) for r in pms)
        counts.pms_twice_by_text += sum(len(ids) - 1 for ids in ids_of_text.values())


def _check_sessions(counts: Counts, records: Sequence[Record], restarts: Sequence[Restart]) -> None:
    counts.resumptions = sum(len(r.resumed) for r in restarts)
    counts.not_resumed = sum(len(r.fresh) + len(r.missing) for r in restarts)
    # A client whose library gave up on its session (a register refused, a close it
    # was not asked for) lost it, whether or not a restart was being watched.
    closed = [r for r in records if r["k"] == "status" and r["state"] == "closed"]
    counts.sessions_lost = sum(1 for r in closed if r["reason"] != "closed")
