"""`zmqchat --help` and each command's: quick to show."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CLIENT_COMMANDS = ("chat", "gui", "send", "tail", "pm", "who", "rooms", "history")

# Loaded by a command's runner only: help must not pay for sockets, the client
# library, the broker or a front end.
HEAVY = (
    "zmq",
    "zmqchat.client.io",
    "zmqchat.client.core",
    "zmqchat.client.console.oneshot",
    "zmqchat.client.console.interactive",
    "zmqchat.client.gui",
    "zmqchat.broker",
    "prompt_toolkit",
    "tkinter",
)
PROBE = """\
import json, sys
from zmqchat.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = {heavy!r}
loaded = [m for m in sys.modules if m in heavy or m.startswith(tuple(h + "." for h in heavy))]
print(json.dumps([code, sorted(loaded)]))
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], [], ["--version"], *([name, "--help"] for name in ("broker", *CLIENT_COMMANDS))],
    ids=lambda argv: " ".join(argv) or "no arguments",
)
def test_help_loads_neither_zmq_nor_the_client(argv):
    probe = PROBE.format(heavy=tuple(HEAVY))
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    code, loaded = json.loads(out.stdout.splitlines()[-1])
    assert code == (2 if not argv else 0)
    assert loaded == []
