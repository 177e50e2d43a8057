"""Running the `zmqchat` command as a real process, isolated from the user's setup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ZMQCHAT = [sys.executable, "-m", "zmqchat"]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment without any ZMQCHAT_* setting or user config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQCHAT_")}
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")  # known_brokers, keys
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    home: Path, *args: str, input: str | None = None, timeout: float = 20.0, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `zmqchat ARGS...` to completion and return its status and output."""
    return subprocess.run(
        [*ZMQCHAT, *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=cli_env(home, **env),
        check=False,
    )


class Cli(subprocess.Popen[str]):
    """A `zmqchat` process that a ``with`` block stops by its pid on the way out.
    Popen's own exit waits for the process with no limit: a test that failed
    before its command ended would then hang until its timeout, and report that
    instead of its own assertion."""

    def __exit__(self, *exc_info: Any) -> None:
        if self.poll() is None:
            self.kill()
            self.wait(5)
        super().__exit__(*exc_info)


def spawn_cli(home: Path, *args: str, **popen: Any) -> Cli:
    """Start `zmqchat ARGS...` with its stdout and stderr piped."""
    env = cli_env(home, **popen.pop("env", {}))
    return Cli(
        [*ZMQCHAT, *args],
        stdin=popen.pop("stdin", subprocess.DEVNULL),
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=popen.pop("stderr", subprocess.PIPE),
        text=True,
        encoding="utf-8",
        env=env,
        **popen,
    )
