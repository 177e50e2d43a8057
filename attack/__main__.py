"""``python -m attack``: each hostile peer of issue 14 against a real broker with a
bystander; one line per row, PASS/FAIL per goal.

Exit status 0 when every row meets every goal, 1 otherwise (2: the suite could not
run). See docs/attack.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from attack.driver import ROWS, Result, run_row
from attack.plan import FULL, QUICK
from attack.report import as_json, line, passed, table


def say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    names = [row.name for row in ROWS]
    parser = argparse.ArgumentParser(prog="python -m attack", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short form (CI): ~1.5 min")
    parser.add_argument("--only", action="append", choices=names, metavar="ROW",
                        help=f"run only this row (repeatable): {', '.join(names)}")  # fmt: skip
    parser.add_argument("--seconds", type=float, help="seconds of each attack (default 30)")
    parser.add_argument("--seed", type=int, help="the fuzz run's random choices")
    parser.add_argument("--attacker-nice", type=int, metavar="N",
                        help="the attacker's niceness (default 10; 0: the broker's)")  # fmt: skip
    parser.add_argument("--dir", dest="directory", help="keep the brokers' stores and logs here")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--json", help="also write each row's figures and goals to this file")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.seconds is not None:
        plan = dataclasses.replace(plan, seconds=args.seconds)
    if args.seed is not None:
        plan = dataclasses.replace(plan, fuzz_seed=args.seed)
    if args.attacker_nice is not None:
        plan = dataclasses.replace(plan, attacker_nice=args.attacker_nice)
    work = Path(args.directory or tempfile.mkdtemp(prefix="zmqchat-attack-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"attack: {'quick' if args.quick else 'full'} form; brokers' logs in {work}")
    results: list[Result] = []
    started = time.monotonic()
    try:
        for row in ROWS:
            if args.only and row.name not in args.only:
                continue
            result = run_row(row, plan, work, say)
            results.append(result)
            say(line(result))
    except OSError as exc:
        print(f"attack: could not run: {exc}", file=sys.stderr)
        return 2
    failed = [r.row for r in results if not passed(r)]
    if args.markdown:
        say(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps([as_json(r) for r in results], indent=1))
    seconds = time.monotonic() - started
    if failed:
        say(f"attack FAILED: {len(failed)} of {len(results)} rows miss a goal "
            f"({', '.join(failed)}) in {seconds:.0f} s")  # fmt: skip
        return 1
    say(f"attack OK: {len(results)} rows within every goal in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
