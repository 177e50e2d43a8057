"""Accounts on a real broker: each auth mode, wrong passwords and the limits on
them (per account, per address, guesses sent at once), a login that doesn't stall
anyone while its hash runs, a login taking its session over, `zmqchat account`
while the broker runs, the client commands' passwords, and a log without them."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.accounts_helpers import store_account
from tests.cli_helpers import run_cli
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.broker.accounts import Hasher
from zmqchat.errors import BrokerError
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse"
# Quick to check; the parameters come with each hash, so the broker's don't matter.
CHEAP = Hasher(7168, 1)


def add_account(broker: BrokerProcess, name: str, password: str = PASSWORD) -> None:
    """Give ``name`` an account where the broker reads it (its store, or Redis)."""
    store_account(broker, name, CHEAP.hash(password))


def register(endpoint: str, user: str, password: str | None = None, **extra: Any) -> dict:
    peer = RawPeer(endpoint)
    try:
        msg = {"type": "register", "user": user, "proto": 1, **extra}
        if password is not None:
            msg["password"] = password
        return peer.request(msg)
    finally:
        peer.close()


def from_address(broker: BrokerProcess, source: str) -> str:
    """An endpoint that connects to the broker from loopback address ``source``."""
    return f"tcp://{source}:0;127.0.0.1:{broker.port}"


# ----------------------------------------------------------------------- modes


def test_each_auth_mode(make_broker: Any) -> None:
    open_ = make_broker(auth="open")
    add_account(open_, "alice")
    assert register(open_.endpoint, "alice")["type"] == "welcome"  # accounts ignored

    accounts_ = make_broker(auth="accounts")
    add_account(accounts_, "alice")
    assert register(accounts_.endpoint, "alice")["code"] == "auth_failed"
    assert register(accounts_.endpoint, "alice", "wrong horse")["code"] == "auth_failed"
    assert register(accounts_.endpoint, "alice", PASSWORD)["type"] == "welcome"
    assert register(accounts_.endpoint, "bob")["type"] == "welcome"  # a free name

    required = make_broker(auth="required", signup="true")
    assert register(required.endpoint, "bob")["code"] == "auth_failed"
    assert register(required.endpoint, "bob", PASSWORD)["type"] == "welcome"  # signed up
    assert register(required.endpoint, "bob", "another horse")["code"] == "auth_failed"


def test_the_sixth_wrong_password_in_a_minute_is_rate_limited(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    for n in range(5):
        assert register(broker.endpoint, "alice", f"guess {n}")["code"] == "auth_failed"
    limited = register(broker.endpoint, "alice", PASSWORD)
    assert limited["code"] == "rate_limited"
    assert 55 < limited["retry_after"] <= 60
    # Another account is not locked by alice's failures.
    add_account(broker, "bob")
    assert register(broker.endpoint, "bob", PASSWORD)["type"] == "welcome"


def test_an_address_is_limited_across_accounts_and_others_are_not(make_broker: Any) -> None:
    broker = make_broker(auth="accounts", login_attempts_per_address=3)
    for name in ("a1", "a2", "a3", "a4"):
        add_account(broker, name)
    guesser = from_address(broker, "127.0.0.2")
    for name in ("a1", "a2", "a3"):
        assert register(guesser, name, "guess")["code"] == "auth_failed"
    limited = register(guesser, "a4", PASSWORD)
    assert limited["code"] == "rate_limited"
    assert "from 127.0.0.2" in limited["message"]
    assert 0 < limited["retry_after"] <= 60
    assert register(from_address(broker, "127.0.0.3"), "a4", PASSWORD)["type"] == "welcome"
    log = broker.log_file.read_text()
    assert "failed login: wrong password for a1 from 127.0.0.2" in log
    assert "too many failed logins from 127.0.0.2" in log


def test_guesses_sent_at_once_are_counted_as_they_arrive(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    peers = [RawPeer(broker.endpoint) for _ in range(12)]
    try:
        for n, peer in enumerate(peers):  # all sent before any is answered
            msg = {"type": "register", "user": "alice", "proto": 1, "password": f"guess {n}"}
            peer.send({**msg, "ref": n})
        codes = sorted(peer.recv()["code"] for peer in peers)
    finally:
        for peer in peers:
            peer.close()
    assert codes == ["auth_failed"] * 5 + ["rate_limited"] * 7


# ------------------------------------------------------------------ off the loop


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def test_a_login_with_a_slow_hash_does_not_stall_anyone_else(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    slow = Hasher(19456, 20)  # ten times OWASP's cost: a few hundred ms per check
    hashed = slow.hash(PASSWORD)
    # The quickest of two checks: on a busy machine one of them may take several
    # times as long as the broker's own (2.2 s here once, against 0.65 s).
    check = min(_timed(lambda: slow.verify(hashed, PASSWORD)) for _ in range(2))
    store_account(broker, "alice", hashed)
    watcher = RawPeer(broker.endpoint)
    watcher.register("watcher")
    logins = [RawPeer(broker.endpoint) for _ in range(3)]
    pings: list[float] = []
    try:
        started = time.monotonic()
        for n, peer in enumerate(logins):
            msg = {"type": "register", "user": "alice", "proto": 1, "password": PASSWORD}
            peer.send({**msg, "ref": n})
        answers: dict[int, float] = {}  # the first frame each got (welcome; later, closed)

        def all_answered() -> bool:
            for n, peer in enumerate(logins):
                if n not in answers and peer.poll(0) is not None:
                    answers[n] = time.monotonic() - started
            t = time.monotonic()
            assert watcher.request({"type": "ping"})["type"] == "pong"
            pings.append(time.monotonic() - t)
            return len(answers) == len(logins)

        wait_until(all_answered, 30, "the three logins", interval=0)
        answered = sorted(answers.values())
    finally:
        watcher.close()
        for peer in logins:
            peer.close()
    # Each login waited for its check, a few hundred ms...
    assert answered[0] > check * 0.5, (answered, check)
    # ...and the loop answered pings all along, each far quicker than one check.
    assert len(pings) > 10
    assert max(pings) < check / 2, (max(pings), check)


# --------------------------------------------------------------------- takeover


def test_a_login_takes_the_session_over_and_the_old_connection_is_told(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    with (
        Client("alice", broker.endpoint, password=PASSWORD, rooms=["dev"]) as first,
        Client("alice", broker.endpoint, password=PASSWORD, rooms=["other"]) as second,
    ):
        wait_until(lambda: first.state == "closed", 10, "the first client closed")
        assert first._core.close_reason is not None
        assert "replaced" in first._core.close_reason
        # The same session (its rooms, not the request's), under a new token: whoever
        # held the old one (an old password's holder) resumes nothing with it.
        assert second.session != first.session
        assert second.rooms == ("dev",)
        second.send("dev", "still here")


def test_a_client_reconnecting_after_a_restart_resumes_without_a_new_check(
    make_broker: Any,
) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    with Client("alice", broker.endpoint, password=PASSWORD) as alice:
        token = alice.session
        broker.restart()
        wait_until(lambda: alice.ping() is not None, 20, "a pong after the restart")
        assert alice.session == token
    assert broker.log_file.read_text().count("logged in alice") == 1  # one check only


def test_a_wrong_password_fails_the_clients_connect(make_broker: Any) -> None:
    broker = make_broker(auth="accounts", login_attempts_per_account=1)
    add_account(broker, "alice")
    client = Client("alice", broker.endpoint, password="wrong horse")
    with pytest.raises(BrokerError) as refused:
        client.connect()
    assert (refused.value.code, refused.value.retry_after) == ("auth_failed", None)
    client.close()
    client = Client("alice", broker.endpoint, password=PASSWORD)
    with pytest.raises(BrokerError) as limited:
        client.connect()
    assert limited.value.code == "rate_limited"
    assert limited.value.retry_after is not None
    assert 50 < limited.value.retry_after <= 60
    client.close()


# --------------------------------------------------------------- zmqchat account


def test_the_account_command_works_while_the_broker_runs(make_broker: Any, tmp_path: Path) -> None:
    broker = make_broker(auth="accounts")
    db = ["--db", broker.db]

    def account(*args: str, password: str = "") -> Any:
        t = time.monotonic()
        done = run_cli(tmp_path, "account", *args, *db, input=password)
        assert time.monotonic() - t < 10  # never waits for the broker's lock
        return done

    added = account("add", "alice", password=f"{PASSWORD}\n")
    assert (added.returncode, added.stdout) == (0, "added the account alice\n")
    assert oct(os.stat(broker.db).st_mode & 0o777) == oct(0o600)
    # The broker knows it at the next login, without a restart.
    assert register(broker.endpoint, "alice", PASSWORD)["type"] == "welcome"

    again = account("add", "ALICE", password=f"{PASSWORD}\n")
    assert again.returncode == 1
    assert "alice already has an account" in again.stderr
    short = account("add", "bob", password="short\n")
    assert (short.returncode, short.stderr.strip()) == (
        2,
        "zmqchat account: a password needs at least 8 characters",
    )
    # No way to give the password on the command line.
    assert run_cli(tmp_path, "account", "add", "bob", PASSWORD, *db).returncode == 2

    changed = account("passwd", "alice", password="new horse battery\n")
    assert changed.returncode == 0, changed.stderr
    assert register(broker.endpoint, "alice", PASSWORD)["code"] == "auth_failed"
    assert register(broker.endpoint, "alice", "new horse battery")["type"] == "welcome"
    assert account("passwd", "nobody", password="whatever horse\n").returncode == 1

    listed = account("list", "--json")
    assert [(a["name"], a["hash"]) for a in json.loads(listed.stdout)] == [
        ("alice", "argon2id m=19456,t=2,p=1")
    ]
    assert account("list").stdout.startswith("alice  created ")

    deleted = account("del", "alice")
    assert (deleted.returncode, deleted.stdout) == (0, "deleted the account alice\n")
    refused = register(broker.endpoint, "carol", "new horse battery")
    assert refused["code"] == "auth_failed"  # no account and no sign-up
    assert account("del", "alice").returncode == 1
    assert broker.running
    log = broker.log_file.read_text()
    for secret in (PASSWORD, "new horse battery", "short"):
        assert secret not in log


def test_the_account_command_finds_the_store_in_the_brokers_config(tmp_path: Path) -> None:
    db = tmp_path / "data" / "store.db"
    config = tmp_path / "broker.toml"
    config.write_text(f'db = "{db}"\n')
    added = run_cli(
        tmp_path, "account", "add", "alice", "--config", str(config), input="abcdefgh\n"
    )
    assert added.returncode == 0, added.stderr
    by_env = run_cli(tmp_path, "account", "list", ZMQCHAT_DB=str(db))
    assert by_env.stdout.startswith("alice  ")
    missing = run_cli(tmp_path, "account", "list", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 1
    assert "there is no store at" in missing.stderr


# ------------------------------------------------------------- client commands


def test_the_client_commands_take_a_password_file_or_the_environment(
    make_broker: Any, tmp_path: Path
) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    where = ["--port", str(broker.port), "--user", "alice"]

    secret = tmp_path / "password"
    secret.write_text(f"{PASSWORD}\n")
    secret.chmod(0o600)
    done = run_cli(tmp_path, "who", *where, "--password-file", str(secret))
    assert done.returncode == 0, done.stderr

    secret.chmod(0o644)
    exposed = run_cli(tmp_path, "who", *where, "--password-file", str(secret))
    assert exposed.returncode == 2
    assert "can be read by other users (mode 0644); chmod 600 it" in exposed.stderr

    by_env = run_cli(tmp_path, "send", *where, "--room", "general", "hi", ZMQCHAT_PASSWORD=PASSWORD)
    assert by_env.returncode == 0, by_env.stderr

    # Without --user, the made-up name is free: the password is not sent for it.
    free = run_cli(tmp_path, "who", "--port", str(broker.port), ZMQCHAT_PASSWORD=PASSWORD)
    assert free.returncode == 0, free.stderr

    # No password and no terminal to ask on: refused, and said how to give one.
    refused = run_cli(tmp_path, "who", *where)
    assert refused.returncode == 1
    assert refused.stderr == (
        "zmqchat who: auth_failed: alice has an account: give its password; "
        "give it with --password-file FILE or ZMQCHAT_PASSWORD\n"
    )


def test_the_client_asks_on_the_terminal_when_the_broker_wants_a_password(
    make_broker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zmqchat.client.console.runner import connected
    from zmqchat.common.config import ClientConfig

    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    with connected(ClientConfig(port=broker.port), "alice", (), "who", ask=ask) as (client, _):
        assert client.user == "alice"
    assert asked == ["password for alice: "]


# ------------------------------------------------------------------------ logs


def test_no_password_reaches_the_brokers_log_at_debug(make_broker: Any) -> None:
    broker = make_broker(auth="accounts", signup="true", log_level="debug")
    add_account(broker, "alice")
    secrets = ["guess number one", PASSWORD, "bob's new secret", "x" * 1025]
    register(broker.endpoint, "alice", secrets[0])
    register(broker.endpoint, "alice", secrets[1])
    register(broker.endpoint, "bob", secrets[2])
    register(broker.endpoint, "carol", secrets[3])  # too long: bad_request
    wait_until(lambda: "signed up bob" in broker.log_file.read_text(), 10, "bob's sign-up")
    log = broker.log_file.read_text()
    assert "DEBUG" in log
    for secret in secrets:
        assert secret not in log
