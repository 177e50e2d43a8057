"""`zmqchat --help` and each command's: written from the tables, and quick to show."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from zmqchat.cli import main
from zmqchat.client.chat.keys import CONSOLE_KEYS, GUI_KEYS
from zmqchat.client.chat.slash_commands import COMMANDS, help_lines
from zmqchat.client.console.exits import ExitCode

MODERATION = ("topic", "kick", "ban", "unban", "op", "deop", "lock", "unlock")
CLIENT_COMMANDS = ("chat", "gui", "send", "tail", "pm", "who", "rooms", "history", *MODERATION)

# The statuses a command never exits with, and why; its help must list every other
# one, so a status added to ExitCode fails here until each command's help has it.
NEVER: dict[str, set[ExitCode]] = {
    "chat": {ExitCode.TIMED_OUT},  # no --timeout
    # Refusals and an unreachable broker show in the window, which stays open; a
    # signal closes it like its close button (0).
    "gui": {
        ExitCode.UNREACHABLE,
        ExitCode.TIMED_OUT,
        ExitCode.HUNG_UP,
        ExitCode.INTERRUPTED,
        ExitCode.TERMINATED,
    },
    **{
        name: {ExitCode.TIMED_OUT}
        for name in ("send", "pm", "who", "rooms", "history", *MODERATION)
    },
    "tail": set(),
}


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def documented_statuses(text: str) -> list[int]:
    section = text.split("\nexit status:\n", 1)[1].split("\n\n", 1)[0]
    return [int(code) for code in re.findall(r"^  (\d+) ", section, re.MULTILINE)]


@pytest.mark.parametrize("name", ["chat", "gui"])
def test_every_slash_command_is_in_the_help(capsys, name):
    text = help_of(capsys, name)
    for spec in COMMANDS:
        assert spec.usage in text, f"{spec.usage} is missing from `zmqchat {name} --help`"
    keys = {"chat": CONSOLE_KEYS, "gui": GUI_KEYS}[name]
    for line in help_lines(keys):  # what /help shows in that chat, its keys included
        assert line in text
    if name == "gui":
        assert "Ctrl-D" not in text  # the console's key, which a window does not use


@pytest.mark.parametrize("name", CLIENT_COMMANDS)
def test_every_exit_status_is_in_the_help(capsys, name):
    expected = sorted(int(code) for code in ExitCode if code not in NEVER[name])
    assert documented_statuses(help_of(capsys, name)) == expected


def test_the_broker_documents_its_exit_statuses(capsys):
    # Not ExitCode's: the broker's own (tests/integration/test_broker_command.py).
    assert documented_statuses(help_of(capsys, "broker")) == [0, 1, 2]


def test_the_top_level_help_names_every_command(capsys):
    text = help_of(capsys)
    for name in ("broker", *CLIENT_COMMANDS):
        assert re.search(rf"^    {name} ", text, re.MULTILINE), name


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
