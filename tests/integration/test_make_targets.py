"""The Makefile's targets as a newcomer runs them: `make run` stopped with Ctrl-C in
its terminal, and `make dist`'s wheel installed on a machine without the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pexpect
import pytest
from tests.cli_helpers import cli_env

from zmqchat.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]
# This interpreter's environment stands in for the Makefile's .venv; -o keeps make
# from installing into it again.
VENV = Path(sys.prefix)
MAKE = shutil.which("make")

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(MAKE is None, reason="needs make"),
    pytest.mark.skipif(
        not (VENV / "bin" / "zmqchat").exists(), reason="needs zmqchat installed in a venv"
    ),
]


def make(*args: str) -> list[str]:
    assert MAKE is not None
    return [MAKE, "--no-print-directory", "-C", str(ROOT), f"VENV={VENV}",
            "-o", f"{VENV}/.installed", *args]  # fmt: skip


def test_make_run_stopped_with_ctrl_c_exits_0_without_an_error(tmp_path):
    ready = tmp_path / "ready.json"
    broker_args = f"--port 0 --pub-port 0 --db {tmp_path / 'chat.db'} --ready-file {ready}"
    command = make("run", f"ARGS={broker_args}")
    child = pexpect.spawn(
        command[0], command[1:], env=cli_env(tmp_path), encoding="utf-8", timeout=30
    )
    try:
        wait_until(ready.exists, timeout=30, what="the broker serving")
        child.sendintr()  # Ctrl-C typed in the terminal: SIGINT to its foreground
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    said = child.before or ""
    assert (child.exitstatus, child.signalstatus) == (0, None), said
    assert "stopped" in said
    for alarm in ("Interrupt", "Error", "Traceback", "***"):
        assert alarm not in said, said


def run(command: list[str], home: Path, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=90,
        env=cli_env(home),
        check=False,
        **options,
    )


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_make_dist_builds_a_wheel_that_installs_into_a_fresh_venv_and_runs(tmp_path):
    dist = tmp_path / "dist"
    built = run(make("dist", f"DIST={dist}"), tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list(dist.glob("zmqchat-*-py3-none-any.whl"))
    assert len(wheels) == 1, built.stdout
    assert str(wheels[0]) in built.stdout  # make says what it built

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = str(fresh / "bin" / "python")
    installed = run([python, "-m", "pip", "install", "-q", str(wheels[0])], tmp_path)
    assert installed.returncode == 0, installed.stderr
    # Run from elsewhere, so that nothing comes from the checkout.
    helped = run([str(fresh / "bin" / "zmqchat"), "--help"], tmp_path, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: zmqchat")
    where = run([python, "-c", "import zmqchat; print(zmqchat.__file__)"], tmp_path, cwd=tmp_path)
    assert where.stdout.startswith(str(fresh)), where.stdout
