"""The GUI's scripts keep working: the README's screenshot and the stall meter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.timeout(60)

SCRIPTS = Path(__file__).parents[2] / "scripts"


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


def test_the_screenshot_shows_the_window_in_use(xdisplay, tmp_path):
    out = tmp_path / "gui.png"
    result = run("screenshot.py", "--out", str(out), "--display", xdisplay)
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(out) as image:
        assert image.size == (960, 520)
        # Not a blank grab: text in several colours on the window's greys.
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None
        assert len(colours) > 50


def test_the_stall_meter_reports_each_run(xdisplay):
    result = run(
        "gui_stall.py", "--count", "2000", "--runs", "1", "--goal", "2000", "--display", xdisplay
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[0])
    assert report["count"] == 2000
    assert report["over_100ms"] >= 0
    assert 0 < report["longest_ms"] < 2000
    assert "longest Tk stall over 1 run(s)" in result.stdout
