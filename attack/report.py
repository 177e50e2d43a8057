"""The goals of issue 14 and the report: one line per row, PASS/FAIL per goal."""

from __future__ import annotations

import math

from attack.driver import Result

RSS_GOAL_MB = 300.0
P99_FACTOR = 3.0  # the bystander's p99 under attack, at most this times its idle p99


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (``p`` in 0..1); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def goals(result: Result) -> dict[str, bool]:
    idle99 = percentile(result.idle, 0.99)
    p99 = percentile(result.attacked, 0.99)
    return {
        "rss": result.rss_mb <= RSS_GOAL_MB and result.rss_mb > 0,
        "p99": p99 <= P99_FACTOR * idle99,  # nan (nothing measured) fails
        "lost": result.lost == 0 and result.error is None,
        "newcomers": result.tried > 0 and result.served == result.tried,
        "up": result.alive,
    }


def passed(result: Result) -> bool:
    return all(goals(result).values())


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def line(result: Result) -> str:
    met = goals(result)
    ms = [1000 * percentile(v, p) for v in (result.attacked, result.idle) for p in (0.5, 0.99)]
    text = (
        f"{result.row:<17} RSS {result.rss_mb:6.0f} MB {_mark(met['rss'])}"
        f" | p50/p99 {ms[0]:.1f}/{ms[1]:.1f} ms (idle {ms[2]:.1f}/{ms[3]:.1f}) {_mark(met['p99'])}"
        f" | lost {result.lost} {_mark(met['lost'])}"
        f" | newcomers {result.served}/{result.tried} {_mark(met['newcomers'])}"
        f" | broker {'up' if result.alive else 'DOWN'} {_mark(met['up'])}"
        f" | {'PASS' if passed(result) else 'FAIL'}"
    )
    store = f"{result.stored_rooms} rooms and {result.stored_names} names in its store"
    extra = [
        result.note,
        f"broker CPU {result.cpu:.0f}%, {store}",
        f"other processes' CPU {result.others_cpu:.0f}%",
    ]
    if result.unseen or result.refused:
        extra.append(f"bystander: {result.unseen} chats never seen, {result.refused} refused")
    if result.error:
        extra.append(f"error: {result.error}")
    return text + "\n    " + "; ".join(e for e in extra if e)


def as_json(result: Result) -> dict[str, object]:
    """A row's figures (milliseconds, MB) and goals, for the quick test and scripts."""
    ms = {
        f"{name}_{label}": 1000 * percentile(values, p)
        for name, values in (("attack", result.attacked), ("idle", result.idle))
        for label, p in (("p50", 0.5), ("p99", 0.99))
    }
    return {
        "row": result.row,
        "rss_mb": result.rss_mb,
        **ms,
        "lost": result.lost,
        "unseen": result.unseen,
        "refused": result.refused,
        "newcomers_tried": result.tried,
        "newcomers_served": result.served,
        "broker_up": result.alive,
        "broker_cpu_pct": result.cpu,
        "others_cpu_pct": result.others_cpu,
        "stored_rooms": result.stored_rooms,
        "stored_names": result.stored_names,
        "goals": goals(result),
        "note": result.note,
        "error": result.error,
    }


def table(results: list[Result]) -> str:
    """The results as a Markdown table, for docs/attack.md."""
    rows = [
        "| row | broker peak RSS | bystander p50 / p99 (idle) | lost | newcomers served | "
        "broker CPU | others' CPU | rooms / names stored | goals | what the attacker did |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        met = goals(r)
        failed = [name for name, ok in met.items() if not ok]
        ms = [1000 * percentile(v, p) for v in (r.attacked, r.idle) for p in (0.5, 0.99)]
        rows.append(
            f"| {r.row} | {r.rss_mb:.0f} MB | {ms[0]:.1f} / {ms[1]:.1f} ms "
            f"({ms[2]:.1f} / {ms[3]:.1f}) | {r.lost} | {r.served}/{r.tried} | {r.cpu:.0f}% | "
            f"{r.others_cpu:.0f}% | "
            f"{r.stored_rooms} / {r.stored_names} | "
            f"{'PASS' if not failed else 'FAIL: ' + ', '.join(failed)} | {r.note} |"
        )
    return "\n".join(rows)
