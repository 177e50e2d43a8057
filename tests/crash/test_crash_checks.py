"""The crash test's counts: each one sees the fault it is named for, and only that."""

from __future__ import annotations

import pytest
from crash.checks import Counts, Restart, check

A = "load0"
B = "load1"


def chat_ack(client: str, room: str, seq: int, text: str, n: int = 0) -> dict:
    """``n``: the order its client sent it in."""
    return {"k": "chat_ack", "c": client, "room": room, "seq": seq, "text": text, "n": n}


def chat(client: str, room: str, seq: int, text: str) -> dict:
    return {"k": "chat", "c": client, "room": room, "seq": seq, "text": text}


def pm_ack(client: str, to: str, pm_id: int, text: str) -> dict:
    return {"k": "pm_ack", "c": client, "to": to, "id": pm_id, "text": text}


def pm(client: str, pm_id: int, sender: str, text: str) -> dict:
    return {"k": "pm", "c": client, "id": pm_id, "sender": sender, "text": text}


def stored_pm(client: str, pm_id: int, sender: str, text: str) -> dict:
    return {"k": "stored_pm", "c": client, "id": pm_id, "sender": sender, "to": client,
            "text": text}  # fmt: skip


def status(client: str, state: str, reason: str | None = None, resumed: bool = False) -> dict:
    return {"k": "status", "c": client, "state": state, "resumed": resumed, "reason": reason}


CLEAN = {
    A: [
        status(A, "connected"),
        chat_ack(A, "general", 1, "a:1"),
        chat(A, "general", 1, "a:1"),
        pm_ack(A, B, 7, "a:2"),
        chat(A, "general", 2, "b:1"),
        status(A, "closed", "closed"),
    ],
    B: [
        status(B, "connected"),
        chat(B, "general", 1, "a:1"),
        chat_ack(B, "general", 2, "b:1"),
        chat(B, "general", 2, "b:1"),
        pm(B, 7, A, "a:2"),
        stored_pm(B, 7, A, "a:2"),
    ],
}
HISTORY = {"general": [(1, "a:1"), (2, "b:1")]}


def counts(programs: dict | None = None, history: dict | None = None, **kwargs) -> Counts:
    return check(programs or CLEAN, HISTORY if history is None else history, **kwargs)


def with_records(client: str, *records: dict) -> dict:
    programs = {name: list(lines) for name, lines in CLEAN.items()}
    programs[client] += records
    return programs


def test_a_clean_run_counts_nothing_bad():
    result = counts()
    assert result.ok
    assert (result.chats_acked, result.pms_acked, result.chats_delivered) == (2, 1, 4)
    assert set(result.failures.values()) == {0}


def test_an_acked_chat_missing_from_history_is_lost():
    result = counts(history={"general": [(2, "b:1")]})
    assert (result.chats_lost, result.chat_seqs_reused) == (1, 0)
    assert not result.ok


def test_a_seq_stored_with_another_text_is_lost_and_reused():
    result = counts(history={"general": [(1, "someone else"), (2, "b:1")]})
    assert (result.chats_lost, result.chat_seqs_reused) == (1, 1)


def test_a_seq_delivered_twice_to_one_client_is_a_duplicate():
    result = counts(with_records(B, chat(B, "general", 1, "a:1")))
    assert result.chat_duplicates == 1
    assert result.failures == {**counts().failures, "chat duplicates": 1}


def test_chats_stored_in_another_order_than_sent_are_counted():
    history = {**HISTORY, "dev": [(1, "a:3"), (2, "a:4")]}
    in_order = with_records(A, chat_ack(A, "dev", 1, "a:3", n=3), chat_ack(A, "dev", 2, "a:4", n=4))
    assert counts(in_order, history).ok
    swapped = with_records(A, chat_ack(A, "dev", 1, "a:3", n=4), chat_ack(A, "dev", 2, "a:4", n=3))
    assert counts(swapped, history).failures == {
        **counts().failures,
        "chats out of sent order": 1,
    }
    # Another client's chats are another order.
    history = {**HISTORY, "dev": [(1, "a:3"), (2, "b:9")]}
    apart = with_records(A, chat_ack(A, "dev", 1, "a:3", n=3), chat_ack(B, "dev", 2, "b:9", n=1))
    assert counts(apart, history).ok


def test_an_acked_pm_is_kept_if_received_or_stored():
    received_only = {A: CLEAN[A], B: [r for r in CLEAN[B] if r["k"] != "stored_pm"]}
    stored_only = {A: CLEAN[A], B: [r for r in CLEAN[B] if r["k"] != "pm"]}
    assert counts(received_only).pms_lost == 0
    assert counts(stored_only).pms_lost == 0
    neither = {A: CLEAN[A], B: [r for r in CLEAN[B] if r["k"] not in ("pm", "stored_pm")]}
    assert counts(neither).pms_lost == 1


def test_a_pm_held_by_someone_else_than_its_recipient_is_lost():
    result = counts(with_records(A, pm_ack(A, B, 8, "a:3"), pm(A, 8, A, "a:3")))
    assert result.pms_lost == 1


def test_a_pm_id_with_two_texts_is_reused():
    result = counts(with_records(B, pm(B, 7, A, "another text")))
    assert result.pm_ids_reused == 1


def test_a_pm_id_delivered_twice_is_a_duplicate_and_a_new_id_is_told_apart():
    twice = counts(with_records(B, pm(B, 7, A, "a:2")))
    assert (twice.pm_duplicates, twice.pms_twice_by_text) == (1, 0)
    # The same text again under an id nobody acked: the sender's retry after a crash
    # took a new id. Shown, not failed on (docs/protocol.md 5.5).
    retried = counts(with_records(B, pm(B, 9, A, "a:2")))
    assert (retried.pm_duplicates, retried.pms_twice_by_text, retried.pms_never_acked) == (0, 1, 1)
    assert retried.ok


def test_restarts_count_sessions_that_did_not_come_back_on_their_own():
    restarts = [
        Restart(resumed=frozenset({A, B}), fresh=frozenset(), missing=frozenset()),
        Restart(resumed=frozenset({A}), fresh=frozenset({B}), missing=frozenset()),
        Restart(resumed=frozenset(), fresh=frozenset(), missing=frozenset({A, B})),
    ]
    result = counts(restarts=restarts)
    assert (result.restarts, result.resumptions, result.not_resumed) == (3, 3, 3)
    assert result.failures["sessions not resumed"] == 3


@pytest.mark.parametrize(("reason", "lost"), [("closed", 0), ("registration refused", 1)])
def test_a_close_the_program_did_not_ask_for_loses_the_session(reason, lost):
    result = counts(with_records(B, status(B, "closed", reason)))
    assert result.sessions_lost == lost


def test_a_fresh_register_refused_fails_the_run():
    refused = {"k": "refused", "c": "load0f3", "op": "register", "error": "name_taken"}
    result = counts(with_records(A, refused))
    assert result.failures["registers refused"] == 1


def test_refusals_are_counted_apart_and_do_not_fail_the_run():
    refused = {"k": "refused", "c": A, "op": "pm", "error": "user_offline"}
    result = counts(with_records(A, refused, refused))
    assert result.refused == {"pm user_offline": 2}
    assert result.ok


def test_broken_load_processes_and_dropped_events_fail_the_run():
    assert counts(failed_programs=1).failures["load failures"] == 1
    assert counts(dropped_events=3).failures["load failures"] == 3
    failed_record = {"k": "failed", "c": A, "error": "boom"}
    assert not counts(with_records(A, failed_record)).ok
