"""The `zmqchat broker` command: flags, config layers, signals, exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import RawPeer, RawSub

from zmqchat.broker.store import Store
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(30)

ZMQCHAT = [sys.executable, "-m", "zmqchat"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZMQCHAT, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def spawn(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], dict]:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            *ZMQCHAT,
            "broker",
            "--port",
            "0",
            "--pub-port",
            "0",
            "--db",
            str(tmp_path / "b.db"),
            "--ready-file",
            str(ready),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    wait_until(lambda: ready.exists() or proc.poll() is not None, 15, "the broker to start")
    assert proc.poll() is None, proc.communicate()
    return proc, json.loads(ready.read_text())


def test_version_and_help():
    assert run("--version").stdout.strip().startswith("zmqchat ")
    out = run("broker", "--help").stdout
    for flag in (
        "--config",
        "--host",
        "--port",
        "--pub-port",
        "--db",
        "--data-dir",
        "--log-level",
        "--ready-file",
        "--parent-pid",
    ):
        assert flag in out
    assert "ZMQCHAT_RATE_LIMIT=0" in out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_publishes_notice_flushes_and_exits_0(tmp_path, signum):
    proc, info = spawn(tmp_path)
    try:
        peer = RawPeer(info["endpoint"])
        peer.register("alice")
        sub = RawSub(info["endpoint"], info["pub_port"], b"\x00", b"general\x00")
        sub.sync(peer, "general")
        ack = peer.request({"type": "chat", "room": "general", "text": "kept"})
        proc.send_signal(signum)
        assert sub.recv(5)[1]["text"] == "kept"
        topic, notice = sub.recv(5)
        assert topic == b"\x00"
        assert notice["type"] == "system"
        assert notice["text"] == "broker shutting down"
        assert notice["ts"] >= ack["ts"]
        assert peer.recv_type("closed") == {"type": "closed", "reason": "shutdown"}
        assert proc.wait(10) == 0
        assert not (tmp_path / "ready.json").exists()
        peer.close()
        sub.close()
    finally:
        proc.kill()
        proc.communicate()
    # The acked message is in the store, and alice's session too, for the next run.
    store = Store(str(tmp_path / "b.db"))
    events, _ = store.room_history("general", None, None, 50)
    assert "kept" in [getattr(e, "text", None) for e in events]
    assert [s.user for s in store.sessions()] == ["alice"]
    store.close()


def test_parent_pid_gone_stops_the_broker(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc, _ = spawn(tmp_path, "--parent-pid", str(parent.pid))
    try:
        parent.kill()
        parent.wait()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize(("level", "logged"), [(None, {"INFO"}), ("warning", set())])
def test_broker_process_without_a_level_logs_as_shipped(tmp_path, monkeypatch, level, logged):
    # make bench relies on it: log_level=None leaves the broker on its default, info.
    monkeypatch.delenv("ZMQCHAT_LOG_LEVEL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user broker.toml
    broker = BrokerProcess(tmp_path, log_level=level)
    broker.start()
    peer = RawPeer(broker.endpoint)
    try:
        peer.send({"type": "ping", "ref": 1})  # unregistered: an error, logged at debug
        assert peer.recv()["type"] == "error"
    finally:
        peer.sock.close()
        assert broker.stop() == 0
    log = broker.log_file.read_text()
    assert {lvl for lvl in ("DEBUG", "INFO") if f" {lvl} " in log} == logged, log


def test_port_in_use_is_a_clear_error(broker):
    result = run("broker", "--port", str(broker.port), "--pub-port", "0", "--db", ":memory:")
    assert result.returncode == 1
    assert f"cannot bind tcp://127.0.0.1:{broker.port}" in result.stderr
    assert "another broker" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_layers_and_errors(tmp_path):
    config = tmp_path / "broker.toml"
    config.write_text("heartbeat = 2.0\ntimeout = 9.0\nrate_limit = 5\n")
    # TOML < env < flags: the file sets heartbeat and timeout, env overrides timeout.
    proc, info = spawn(tmp_path, "--config", str(config), env={"ZMQCHAT_TIMEOUT": "7"})
    try:
        peer = RawPeer(info["endpoint"])
        welcome = peer.register("alice")
        assert (welcome["heartbeat"], welcome["timeout"]) == (2.0, 7.0)
        assert welcome["limits"]["rate_limit"] == 5.0
        peer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)

    config.write_text("tiemout = 3\n")
    result = run("broker", "--config", str(config))
    assert result.returncode == 2
    assert "unknown key 'tiemout'" in result.stderr
    result = run("broker", "--db", ":memory:", env={"ZMQCHAT_PORT": "many"})
    assert result.returncode == 2
    assert "ZMQCHAT_PORT" in result.stderr
    result = run("broker", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_a_commit_that_fails_is_answered_store_unavailable_and_the_broker_carries_on(
    make_broker,
):
    broker = make_broker()
    alice, bob = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
    try:
        alice.register("alice", rooms=[])
        bob.register("bob", rooms=[])
        # A real SQLite failure at the broker's next commit, as a failing disk gives.
        with contextlib.closing(sqlite3.connect(broker.db)) as db:
            db.execute(
                "CREATE TRIGGER fail BEFORE INSERT ON pms"
                " BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END"
            )
            db.commit()
        reply = alice.request({"type": "pm", "to": "bob", "text": "last words"})
        assert (reply["type"], reply["code"]) == ("error", "store_unavailable")
        assert alice.request({"type": "ping"})["type"] == "pong"
        assert broker.running
        with contextlib.closing(sqlite3.connect(broker.db)) as db:
            db.execute("DROP TRIGGER fail")
            db.commit()
        wait_until(
            lambda: alice.request({"type": "pm", "to": "bob", "text": "again"})["type"] == "ack",
            10,
            "the pm to be taken",
        )
        log = broker.log_file.read_text()
        assert "store unavailable" in log
        assert "the disk is on fire" in log
        assert "Traceback" not in log
    finally:
        alice.close()
        bob.close()
