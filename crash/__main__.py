"""``python -m crash``: kill -9 the broker under load, N times, and count what was lost.

Exit status 0 when every count that must be 0 is, 1 otherwise (2: the test could not
run). See docs/crash-test.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from crash.driver import Options, Outcome, run
from crash.report import summary


def _options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m crash", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short form: 3 kills, 3 processes")
    parser.add_argument("--kills", type=int, help="broker kills (default 20; --quick 3)")
    parser.add_argument("--workers", type=int, help="load processes (default 4; --quick 3)")
    parser.add_argument("--rate", type=float, help="requests/s per load process (default 400)")
    parser.add_argument("--window", type=int, help="requests in flight per process (default 16)")
    parser.add_argument("--seed", type=int, help="the random moments and choices, to replay a run")
    parser.add_argument("--dir", dest="directory", help="keep records, store and log here")
    args = parser.parse_args(argv)
    base = Options(kills=3, workers=3, gap=(0.3, 2.0)) if args.quick else Options()
    given = {k: v for k, v in vars(args).items() if k != "quick" and v is not None}
    return dataclasses.replace(base, **given)


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    try:
        outcome: Outcome = run(options, say=lambda line: print(line, flush=True))
    except (RuntimeError, OSError) as exc:
        print(f"crash test: could not run: {exc}", file=sys.stderr)
        return 2
    print(summary(outcome), flush=True)
    return 0 if outcome.counts.ok else 1


if __name__ == "__main__":
    sys.exit(main())
