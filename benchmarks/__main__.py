"""Run the benchmarks: ``python -m benchmarks [--quick] [NAME ...]``.

Prints one table (zmqchat, its baseline, their paired ratio, the goal) and writes
every run's figures to ``benchmarks/results/<full|quick>.json``, from which
``python -m benchmarks.plot`` draws docs/fanout.png. ``make bench`` and ``make
bench-quick`` call this.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    bench_cluster,
    bench_files,
    bench_history,
    bench_private,
    bench_rooms,
    bench_scale,
    bench_search,
)
from benchmarks.harness import Metric, machine, spread

BENCHMARKS: dict[str, Callable[[bool], list[Metric]]] = {
    "rooms": bench_rooms.run,
    "private": bench_private.run,
    "scale": bench_scale.run,
    "history": bench_history.run,
    "search": bench_search.run,
    "files": bench_files.run,
    "cluster": bench_cluster.run,
}
RESULTS = Path(__file__).parent / "results"


def _fmt(unit: str) -> str:
    return {
        "us": "{:,.0f}",
        "ms": "{:.3f}",
        "s": "{:.2f}",
        "KiB": "{:.1f}",
        "MiB": "{:.1f}",
        "MB/s": "{:,.1f}",
        "share": "{:.3f}",
        "count": "{:,.0f}",
    }.get(unit, "{:,.0f}")


def table(metrics: list[Metric]) -> str:
    """A Markdown table of the results, as pasted into docs/performance.md."""
    rows = [
        "| measure | zmqchat | baseline | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for m in metrics:
        fmt = _fmt(m.unit)
        ratio = spread(m.ratios(), "{:.2f}") + "x" if m.ratios() else "-"
        ok = {True: "yes", False: "**no**", None: ""}[m.ok()]
        base = f"{spread(m.base, fmt)} ({m.baseline})" if m.base else "-"
        rows.append(
            f"| {m.name} ({m.unit}) | {spread(m.ours, fmt)} | {base} | {ratio} | {m.goal} | {ok} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one short run of each (about a minute), for a smoke check",
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    started = time.monotonic()
    print(f"machine: {machine()}", flush=True)
    metrics: list[Metric] = []
    for name in names:
        t = time.monotonic()
        print(f"running {name}...", flush=True)
        metrics += BENCHMARKS[name](args.quick)
        print(f"  {name} took {time.monotonic() - t:.0f}s", flush=True)
    print()
    print(table(metrics))
    RESULTS.mkdir(exist_ok=True)
    label = "quick" if args.quick else "full"
    if args.names and set(names) != set(BENCHMARKS):
        # Some of them: beside the whole run's results, never over them.
        label += "-" + "-".join(names)
    out = RESULTS / f"{label}.json"
    out.write_text(
        json.dumps(
            {
                "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "seconds": round(time.monotonic() - started),
                "metrics": [m.as_dict() for m in metrics],
            },
            indent=1,
        )
    )
    print(f"\nwrote {out} ({time.monotonic() - started:.0f}s in all)")
    failed = [m.name for m in metrics if m.ok() is False]
    if failed:
        print("goals not met: " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
