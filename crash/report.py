"""The crash test's counts as a person reads them: a few lines, then one summary line."""

from __future__ import annotations

from crash.checks import Counts
from crash.driver import Outcome


def _refusals(counts: Counts) -> str:
    total = sum(counts.refused.values())
    if not total:
        return "0"
    shown = ", ".join(f"{why} {n}" for why, n in list(counts.refused.items())[:6])
    return f"{total} ({shown})"


def summary(outcome: Outcome) -> str:
    c = outcome.counts
    resumable = c.resumptions + c.not_resumed
    lines = [
        f"broker killed {c.restarts} times in {outcome.seconds:.0f} s, under load from "
        f"{outcome.options.workers} processes (seed {outcome.seed})",
        f"chats: {c.chats_acked} acked, {c.chats_lost} lost, {c.chat_seqs_reused} seqs reused, "
        f"{c.chat_duplicates} delivered twice, {c.chats_out_of_order} stored out of sent order "
        f"({c.chats_delivered} deliveries)",
        f"pms:   {c.pms_acked} acked, {c.pms_lost} lost, {c.pm_ids_reused} ids reused, "
        f"{c.pm_duplicates} delivered twice ({c.pms_delivered} deliveries); "
        f"{c.pms_never_acked} shown but never acked nor stored, "
        f"{c.pms_twice_by_text} shown again under a new id",
        f"sessions: {c.resumptions} of {resumable} resumed after a restart, "
        f"{c.sessions_lost} closed by the library, {c.registers_refused} of "
        f"{c.fresh_registers + c.registers_refused} fresh registers refused; "
        f"load failures {c.load_failures}, events dropped {c.dropped_events}",
        f"refused or timed out (not acked, not counted as lost): {_refusals(c)}",
    ]
    bad = {name: n for name, n in c.failures.items() if n}
    verdict = "OK" if not bad else "FAIL " + ", ".join(f"{n} {name}" for name, n in bad.items())
    lines.append(
        f"crash test {verdict}: lost {c.chats_lost} chats / {c.pms_lost} pms, reused "
        f"{c.chat_seqs_reused} / {c.pm_ids_reused}, duplicates {c.chat_duplicates} / "
        f"{c.pm_duplicates}, out of order {c.chats_out_of_order}, not resumed "
        f"{c.not_resumed + c.sessions_lost}, registers refused {c.registers_refused}"
    )
    return "\n".join(lines)
