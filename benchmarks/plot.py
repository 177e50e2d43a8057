"""Draw deliveries/s against subscriber count from benchmarks/results/full.json:
``python -m benchmarks.plot [RESULTS.json] [OUT.png]`` (needs matplotlib: the
``bench`` extra)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else HERE / "results" / "full.json"
    target = Path(argv[1]) if len(argv) > 1 else HERE.parent / "docs" / "fanout.png"
    results = json.loads(source.read_text())
    points = sorted(
        (m["subscribers"][0], m)
        for m in results["metrics"]
        if m["name"].startswith("fan-out") and "subscribers" in m
    )
    if not points:
        print(f"{source} holds no fan-out results", file=sys.stderr)
        return 1
    xs = [n for n, _ in points]
    series = {
        "raw PUB->SUB (no broker)": [statistics.median(m["base"]) for _, m in points],
        "minimal Python broker": [statistics.median(m["minimal"]) for _, m in points],
        "zmqchat broker": [statistics.median(m["ours"]) for _, m in points],
    }
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, ys in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("subscribers")
    ax.set_ylabel("deliveries/s (all subscribers)")
    ax.set_title("Room fan-out, 100-byte messages, one publisher")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.text(0.01, 0.01, results["machine"][:110], fontsize=6, alpha=0.7)
    fig.tight_layout()
    fig.savefig(target, dpi=120)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
