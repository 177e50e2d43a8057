"""`zmqchat gui` as a person starts it: a process of its own on the X server,
connecting by itself when --user, --host and --port are given (and then remembering
none of them: the user never saw the form), and leaving with a bye when told to
stop."""

from __future__ import annotations

import json
import signal

import pytest
from tests.cli_helpers import run_cli, spawn_cli

pytestmark = pytest.mark.timeout(60)


def test_the_gui_process_joins_and_leaves_with_a_bye(broker, xdisplay, tmp_path, start_agent):
    bob = start_agent(broker.endpoint, "bob", "general")
    # What the user chose in the form last time: a launch with every setting given
    # (a script's, a desktop shortcut's) must not replace it.
    prefs = tmp_path / "config" / "zmqchat" / "gui.json"
    prefs.parent.mkdir(parents=True)
    prefs.write_text('{"user": "carol", "host": "10.0.0.5", "port": 5555}\n')
    gui = spawn_cli(
        tmp_path,
        "gui",
        "--user",
        "alice",
        "--host",
        "127.0.0.1",
        "--port",
        str(broker.port),
        env={"DISPLAY": xdisplay},
    )
    try:
        bob.expect_event(type="presence", user="alice", event="join")
        bob.call("send", room="general", text="hello window")
        gui.send_signal(signal.SIGTERM)  # as a desktop session ending would
        assert gui.wait(15) == 0
    finally:
        if gui.poll() is None:
            gui.kill()
        _, err = gui.communicate(timeout=10)
    assert "Traceback" not in err, err
    # A bye, not a timeout: the leave says "quit", and the name is free now.
    left = bob.expect_event(type="presence", user="alice", event="leave")
    assert left.get("reason") == "quit"
    assert json.loads(prefs.read_text()) == {"user": "carol", "host": "10.0.0.5", "port": 5555}


def test_without_a_display_it_says_so_in_one_line(tmp_path):
    result = run_cli(tmp_path, "gui", "--user", "alice", DISPLAY="")
    assert result.returncode == 1
    assert "cannot open a window" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_room_is_a_usage_error(tmp_path):
    result = run_cli(tmp_path, "gui", "--room", "not valid", DISPLAY="")
    assert result.returncode == 2
    assert "is not a room name" in result.stderr


def test_help_describes_the_window(tmp_path):
    result = run_cli(tmp_path, "gui", "--help")
    assert result.returncode == 0
    assert "double-click a name to talk privately" in result.stdout
