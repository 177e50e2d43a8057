"""The short form of ``make attack``, so every ``make test`` and CI run puts the broker
through issue 14's hostile peers (docs/attack.md).

It asserts issue 14's goals in every row: the broker stays up, the bystander keeps
chatting and loses nothing, newcomers are served, memory stays within the goal, and
the bystander's p99 round trip under attack is within 3x its idle p99, or within
``P99_FLOOR_MS`` (see docs/attack.md, "The quick test")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROWS = {
    "stuck-sub", "deaf-dealer", "register-close", "idle-connections",
    "many-rooms", "one-address", "room-churn", "fuzz",
}  # fmt: skip

# The quick form's idle p99 comes from 75 chats, its p99 under attack from 200: a
# stall of a few milliseconds decides either. Under this floor a row passes whatever
# its idle p99; the full form (make attack) holds every row to 3x without one.
P99_FLOOR_MS = 10.0
P99_FACTOR = 3.0
# A row already takes one to one and a half of this machine's two cores (broker,
# bystander, attacker). When other processes took more than this (% of one core)
# during its attack, its round trips measure the machine, not the broker: its p99 is
# then printed and not asserted (the test says so).
BUSY_MACHINE_PCT = 50.0


def run_quick(work: Path, *only: str) -> dict[str, dict[str, object]]:
    """``python -m attack --quick`` (only these rows, if any): each row's figures."""
    work.mkdir(parents=True, exist_ok=True)
    figures = work / "results.json"
    rows = [arg for row in only for arg in ("--only", row)]
    run = subprocess.run(
        [sys.executable, "-m", "attack", "--quick", *rows, "--dir", str(work),
         "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )  # fmt: skip
    print(run.stdout + run.stderr)  # the whole report, goals missed included
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 2: it could not run
    return {row["row"]: row for row in json.loads(figures.read_text())}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    return run_quick(tmp_path_factory.mktemp("attack"))


def test_every_row_ran(results):
    assert set(results) == ROWS
    for row in results.values():
        assert row["error"] is None, row
        assert row["newcomers_tried"] > 0, row


@pytest.mark.parametrize("row", sorted(ROWS))
def test_broker_stays_up_and_the_bystander_loses_nothing(results, row):
    figures = results[row]
    assert figures["broker_up"], figures
    assert figures["lost"] == 0, figures
    # It chatted throughout (a nan, for no round trips at all, fails these).
    assert figures["idle_p99"] > 0, figures
    assert figures["attack_p99"] > 0, figures


@pytest.mark.parametrize("row", sorted(ROWS))
def test_memory_and_newcomers(results, row):
    goals = results[row]["goals"]
    for goal in ("rss", "newcomers"):
        assert goals[goal], (goal, results[row])


def within_p99_goal(figures: dict[str, object]) -> bool:
    bound = max(P99_FACTOR * float(figures["idle_p99"]), P99_FLOOR_MS)
    return float(figures["attack_p99"]) <= bound


@pytest.mark.parametrize("row", sorted(ROWS))
def test_the_bystanders_round_trip_under_attack(results, row, tmp_path):
    figures = results[row]
    if not within_p99_goal(figures):
        # One stall of the machine decides a p99 of 200 round trips: a miss is
        # confirmed by running the row again, and the second run is the verdict.
        print(f"{row} missed the p99 goal ({figures}); running it again")
        figures = run_quick(tmp_path / "again", row)[row]
    if not within_p99_goal(figures) and figures["others_cpu_pct"] > BUSY_MACHINE_PCT:
        pytest.skip(
            f"other processes took {figures['others_cpu_pct']:.0f}% of a core during the "
            f"attack: p99 {figures['attack_p99']:.1f} ms (idle {figures['idle_p99']:.1f})"
        )
    assert within_p99_goal(figures), figures
