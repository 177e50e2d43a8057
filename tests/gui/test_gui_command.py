"""`zmqchat gui` as a person starts it: a process of its own on the X server,
connecting by itself when --user and the broker (--host and --port, or a list of
nodes) are given (and then remembering none of them: the user never saw the form),
and leaving with a bye when told to stop."""

from __future__ import annotations

import json
import signal

import pytest
from tests.cli_helpers import run_cli, spawn_cli

from zmqchat import Client
from zmqchat.testing import wait_until

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


@pytest.mark.parametrize("given", ["flags", "environment"])
def test_broker_nodes_given_as_a_list_connect_at_once_with_every_one(
    given, make_broker, xdisplay, tmp_path
):
    # docs/scaling.md's command: no form to fill in, and the client fails over to
    # the second node when the one it is on dies (so it got them both).
    a, b = make_broker(), make_broker()
    if given == "flags":
        nodes = ["--endpoint", a.endpoint, "--endpoint", b.endpoint]
        env = {"DISPLAY": xdisplay}
    else:
        nodes = []
        env = {"DISPLAY": xdisplay, "ZMQCHAT_ENDPOINTS": f"{a.endpoint},{b.endpoint}"}
    with Client("bob", a.endpoint) as bob, Client("carol", b.endpoint) as carol:
        on = {id(bob): a, id(carol): b}

        def where() -> Client | None:
            return next((c for c in (bob, carol) if "alice" in c.who("general")), None)

        gui = spawn_cli(tmp_path, "gui", "--user", "alice", *nodes, env=env)
        try:
            first = wait_until(where, 20, "alice in #general on a node")
            on[id(first)].kill()
            other = carol if first is bob else bob
            wait_until(lambda: "alice" in other.who("general"), 20, "alice on the other node")
            gui.send_signal(signal.SIGTERM)
            assert gui.wait(15) == 0
        finally:
            if gui.poll() is None:
                gui.kill()
            _, err = gui.communicate(timeout=10)
    assert "Traceback" not in err, err
    # Given, not chosen in the form: nothing remembered.
    assert not (tmp_path / "config" / "zmqchat" / "gui.json").exists()
