"""The short form of ``make attack``, so every ``make test`` and CI run puts the broker
through issue 14's hostile peers (docs/attack.md).

It asserts what the broker already holds under every attack: it stays up, the
bystander keeps chatting and loses nothing, and (but for the rows listed in
``NOT_YET``) newcomers are served and memory stays within the goal. The other goals
are printed; as the fixes of issue 14 land, rows come out of ``NOT_YET`` and the
bystander's p99 goal joins the assertions (see docs/attack.md, "The quick test")."""

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

# Goals the broker misses today, by row: printed, not asserted. Memory and newcomers
# hold in every row since reply_hwm/pub_hwm and the connection budgets; the
# bystander's p99 goal ("p99") is still missed by most rows on a 2-core machine, so it
# is not asserted yet (docs/attack.md).
NOT_YET: dict[str, set[str]] = {"rss": set(), "newcomers": set()}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    work = tmp_path_factory.mktemp("attack")
    figures = work / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "attack", "--quick", "--dir", str(work), "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    print(run.stdout + run.stderr)  # the whole report, goals missed included
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 2: it could not run
    return {row["row"]: row for row in json.loads(figures.read_text())}


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
def test_goals_the_broker_already_meets(results, row):
    goals = results[row]["goals"]
    for goal in ("rss", "newcomers"):
        if row not in NOT_YET[goal]:
            assert goals[goal], (goal, results[row])
