"""The short form of ``make crash-test``, so every ``make test`` and CI run kills the
broker under load and fails on anything acknowledged that was lost, reused or shown
twice (docs/crash-test.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_kill9_under_load_loses_reuses_and_repeats_nothing_acknowledged(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "crash", "--quick", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    report = run.stdout + run.stderr
    print(report)  # pytest shows it when the test fails
    assert run.returncode == 0, report
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("crash test OK: lost 0 chats / 0 pms, reused 0 / 0, duplicates 0 / 0")
