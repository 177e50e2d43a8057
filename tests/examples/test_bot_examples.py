"""The bots in examples/ as real processes against a real broker: the ping bot
answers and stops cleanly on a signal, the CI notifier's event reaches `zmqchat tail
--json` with its data, and the bridge forwards a room to a file, stdout or a URL."""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli_helpers import ZMQCHAT, cli_env

from zmqchat import ChatEvent, Client, PmEvent
from zmqchat.testing import expect, wait_until

pytestmark = pytest.mark.timeout(30)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(home: Path, broker: Any, name: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``examples/NAME.py --port PORT ARGS...``."""
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--port", str(broker.port), *args],
        stdin=popen.pop("stdin", subprocess.DEVNULL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=cli_env(home),
        **popen,
    )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to kill at teardown if a test left them running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def online(client: Client, user: str, room: str) -> None:
    """Wait until ``user`` is in ``room`` (so it has joined: what follows reaches it)."""
    wait_until(lambda: user in client.who(room), what=f"{user} in #{room}")


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err


@pytest.mark.parametrize("name", ["ping_bot", "ci_notifier", "room_bridge"])
def test_every_example_explains_itself(tmp_path, name):
    shown = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=20,
        env=cli_env(tmp_path),
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "--host" in shown.stdout
    assert "--port" in shown.stdout


def test_ping_bot_answers_and_stops_cleanly_on_ctrl_c(tmp_path, broker, procs):
    with Client("alice", broker.endpoint, rooms=["general", "dev"]) as alice:
        bot = example(tmp_path, broker, "ping_bot", "--room", "general", "--room", "dev")
        procs.append(bot)
        online(alice, "pingbot", "dev")
        alice.send("general", "!ping")
        assert expect(alice, ChatEvent, sender="pingbot").text == "pong"
        alice.send("dev", "!echo hello  there")
        said = expect(alice, ChatEvent, sender="pingbot")
        assert (said.room, said.text) == ("dev", "hello  there")
        alice.send("general", "!help")
        helped = expect(alice, ChatEvent, sender="pingbot")
        assert helped.text == "commands: !echo: say TEXT back; !ping: answer pong"
        alice.pm("pingbot", "!ping")
        answer = expect(alice, PmEvent)
        assert (answer.sender, answer.text) == ("pingbot", "pong")

        status, _, err = stop(bot, signal.SIGINT)
        assert status == 0, err
        assert "pingbot stopped" in err
        assert "pingbot" not in alice.who()
    with Client("pingbot", broker.endpoint):  # its bye freed the name at once
        pass


def test_ci_notifier_event_reaches_tail_json_with_its_data(tmp_path, broker, procs):
    command = ["tail", "--port", str(broker.port), "--user", "reader", "--room", "ci"]
    tail = subprocess.Popen(
        [*ZMQCHAT, *command, "--json", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=cli_env(tmp_path),
    )
    procs.append(tail)
    with Client("watcher", broker.endpoint, rooms=["ci"]) as watcher:
        online(watcher, "reader", "ci")
    posted = example(
        tmp_path, broker, "ci_notifier", "--build", "42", "--url", "https://ci.example.com/42"
    )
    out, err = posted.communicate(timeout=20)
    assert posted.returncode == 0, err
    assert out.startswith("posted to #ci as seq ")

    assert tail.stdout is not None
    for line in tail.stdout:  # ends at the latest when tail's --timeout runs out
        event = json.loads(line)
        if event["type"] == "chat":
            break
    else:
        pytest.fail(f"no chat from tail: {tail.communicate(timeout=5)}")
    assert event["from"] == "ci-bot"
    assert event["text"] == "build 42 passed https://ci.example.com/42"
    assert event["data"] == {
        "kind": "ci",
        "build": 42,
        "ok": True,
        "url": "https://ci.example.com/42",
    }
    assert event["seq"] == int(out.split()[-1])


def test_ci_notifier_reads_the_result_from_stdin_and_reports_refusals(tmp_path, broker, procs):
    with Client("watcher", broker.endpoint, rooms=["builds"]) as watcher:
        posted = example(
            tmp_path, broker, "ci_notifier", "--room", "builds", "-", stdin=subprocess.PIPE
        )
        _, err = posted.communicate('{"build": 43, "ok": false, "branch": "main"}', timeout=20)
        assert posted.returncode == 0, err
        said = expect(watcher, ChatEvent, sender="ci-bot")
        assert said.text == "build 43 FAILED on main"
        assert said.data == {"kind": "ci", "build": 43, "ok": False, "branch": "main"}

        bad = example(tmp_path, broker, "ci_notifier", "-", stdin=subprocess.PIPE)
        _, err = bad.communicate('{"build": "x"}', timeout=20)
        assert bad.returncode == 2
        assert '"build" (a number)' in err

        with Client("ci-bot", broker.endpoint):  # the name is taken
            taken = example(tmp_path, broker, "ci_notifier", "--build", "44")
            _, err = taken.communicate(timeout=20)
        assert taken.returncode == 1
        assert "name_taken" in err
        with pytest.raises(AssertionError, match="no ChatEvent matching"):
            expect(watcher, ChatEvent, timeout=0.2, sender="ci-bot")


def test_room_bridge_writes_the_room_to_a_log_file(tmp_path, broker, procs):
    log_file = tmp_path / "ci.jsonl"
    with Client("alice", broker.endpoint, rooms=["ci", "general"]) as alice:
        bridge = example(tmp_path, broker, "room_bridge", "--room", "ci", "--out", str(log_file))
        procs.append(bridge)
        online(alice, "bridge", "ci")
        first = alice.send("ci", "build 1 passed", data={"build": 1, "ok": True})
        alice.send("general", "not forwarded")
        second = alice.send("ci", "héllo ✓")

        def lines() -> list[dict[str, Any]]:
            text = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        wait_until(lambda: len(lines()) >= 2, what="two lines in the log")
        status, _, err = stop(bridge, signal.SIGTERM)
        assert status == 0, err
    logged = lines()
    assert [(e["seq"], e["from"], e["text"], e.get("data")) for e in logged] == [
        (first.seq, "alice", "build 1 passed", {"build": 1, "ok": True}),
        (second.seq, "alice", "héllo ✓", None),
    ]
    assert all(e["type"] == "chat" and e["room"] == "ci" for e in logged)


def test_room_bridge_webhook_bodies_on_stdout_and_posted(tmp_path, broker, procs):
    received: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with Client("alice", broker.endpoint, rooms=["ops"]) as alice:
            to_stdout = example(tmp_path, broker, "room_bridge", "--room", "ops", "--webhook")
            to_url = example(
                tmp_path, broker, "room_bridge", "--room", "ops", "--user", "poster", "--post", url
            )
            procs += [to_stdout, to_url]
            online(alice, "bridge", "ops")
            online(alice, "poster", "ops")
            ack = alice.send("ops", "deploy done", data={"env": "prod"})
            wait_until(lambda: received, what="a POST")
            assert to_stdout.stdout is not None
            first = to_stdout.stdout.readline()  # the bridge writes a line per message
            status, out, err = stop(to_stdout, signal.SIGTERM)
            assert status == 0, err
            assert stop(to_url, signal.SIGTERM)[0] == 0
    finally:
        server.shutdown()
        server.server_close()
    expected = {
        "text": "deploy done",
        "username": "alice",
        "channel": "#ops",
        "ts": ack.ts,
        "zmqchat": {
            "type": "chat",
            "room": "ops",
            "seq": ack.seq,
            "from": "alice",
            "text": "deploy done",
            "data": {"env": "prod"},
            "ts": ack.ts,
        },
    }
    assert [json.loads(line) for line in [first, *out.splitlines()]] == [expected]
    assert received == [expected]
