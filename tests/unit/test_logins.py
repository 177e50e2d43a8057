"""Logins in BrokerCore without sockets: who needs a password in each auth mode,
checks that finish on a worker thread and are answered by ``finish_logins``, the
attempt limits, sign-up, takeover, and what a resume token stands for."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import Broker, Msg, Replies

from zmqchat.broker import accounts, logins
from zmqchat.broker.accounts import Hasher
from zmqchat.common.codec import encode
from zmqchat.common.config import BrokerConfig
from zmqchat.testing import wait_until

# OWASP's least memory (its cost is that of the default): about 30 ms a check.
CHEAP: dict[str, Any] = {"hash_memory_kib": 7168, "hash_time_cost": 5}
PASSWORD = "correct horse"


class Logins(Broker):
    """A Broker whose core is told, as the server's socket pair would tell it, when a
    password check has finished."""

    def _make(self) -> Any:
        self.done = threading.Event()
        core = super()._make()
        core.logins._notify = self.done.set
        return core

    def send(self, rid: bytes, msg: Msg, peer: str = "10.0.0.1") -> Replies:
        """Hand ``msg`` to the core; the replies due at once."""
        self.core.handle(rid, encode(msg), self.now, peer=peer)
        replies, _ = self.flush()
        return replies

    def finish(self, count: int = 1) -> Replies:
        """Wait for ``count`` checks to finish, answer them, return the replies."""
        wait_until(lambda: len(self.core.logins._done) >= count, 10, f"{count} checks")
        self.done.clear()
        self.core.finish_logins(self.now)
        replies, _ = self.flush()
        return replies

    def login(self, rid: bytes, user: str, password: str | None, **extra: Any) -> Msg:
        """Register ``user`` (with ``password``); the one reply, once it comes."""
        peer = extra.pop("peer", "10.0.0.1")
        msg = {"type": "register", "user": user, "proto": 1, "ref": 1, **extra}
        if password is not None:
            msg["password"] = password
        replies = self.send(rid, msg, peer=peer)
        if not replies.get(rid):
            replies = self.finish()
        (reply,) = replies[rid]
        return reply

    def add_account(self, name: str, password: str = PASSWORD) -> None:
        """What `zmqchat account add` does: another connection writes the table."""
        with sqlite3.connect(self.path) as db:
            hashed = Hasher(CHEAP["hash_memory_kib"], CHEAP["hash_time_cost"]).hash(password)
            assert accounts.insert(db, name, hashed, 1.0) is not None


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[Logins] = []

    def make(**settings: Any) -> Logins:
        # The peers log in from other machines' addresses (10.0.0.x): as over CURVE,
        # unless a test says otherwise; the core itself never touches a socket.
        config = BrokerConfig(**{**CHEAP, "encryption": "curve", **settings})
        b = Logins(str(tmp_path / f"broker{len(made)}.db"), config)
        made.append(b)
        return b

    yield make
    for b in made:
        b.core.close()
        b.close()


# ------------------------------------------------------------------------ modes


@pytest.mark.parametrize("auth", ["open", "accounts"])
def test_a_password_over_plaintext_from_another_machine_is_refused(make: Any, auth: str) -> None:
    b = make(auth=auth, encryption="none")
    b.add_account("alice")
    refused = b.login(b"A", "alice", PASSWORD, peer="10.0.0.1")
    assert refused["code"] == "encryption_required"
    assert "from 10.0.0.1" in refused["message"]
    assert not b.core.logins.pending  # nothing checked, nothing counted
    assert b.login(b"B", "bob", None, peer="10.0.0.1")["type"] == "welcome"  # no password
    assert b.login(b"C", "alice", PASSWORD, peer="127.0.0.1")["type"] == "welcome"


def test_open_mode_ignores_passwords_and_accounts(make: Any) -> None:
    b = make(auth="open")
    b.add_account("alice")
    assert b.login(b"A", "alice", None)["type"] == "welcome"
    assert b.login(b"B", "bob", "anything at all")["type"] == "welcome"
    assert not b.core.logins.pending


def test_accounts_mode_a_name_with_an_account_needs_its_password(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    refused = b.login(b"A", "ALICE", None)
    assert (refused["code"], refused["message"]) == (
        "auth_failed",
        "alice has an account: give its password",
    )
    assert "retry_after" not in refused
    wrong = b.login(b"A", "alice", "wrong horse")
    assert (wrong["code"], wrong["message"]) == ("auth_failed", "wrong password for alice")
    welcome = b.login(b"A", "Alice", PASSWORD)
    assert (welcome["type"], welcome["user"]) == ("welcome", "Alice")


def test_accounts_mode_other_names_stay_free_without_a_password(make: Any) -> None:
    b = make(auth="accounts")
    assert b.login(b"B", "bob", None)["type"] == "welcome"
    # A password for a name without an account, with no sign-up: refused rather
    # than ignored, so nobody believes the name is now theirs.
    refused = b.login(b"C", "carol", PASSWORD)
    assert refused["code"] == "auth_failed"
    assert "no self sign-up" in refused["message"]


def test_required_mode_every_name_needs_an_account(make: Any) -> None:
    b = make(auth="required")
    b.add_account("alice")
    refused = b.login(b"B", "bob", None)
    assert (refused["code"], refused["message"]) == (
        "auth_failed",
        "bob has no account on this broker, where every name needs one",
    )
    assert b.login(b"B", "bob", PASSWORD)["code"] == "auth_failed"
    assert b.login(b"A", "alice", PASSWORD)["type"] == "welcome"


def test_sign_up_creates_the_account_with_the_first_register(make: Any) -> None:
    b = make(auth="required", signup=True)
    hint = b.login(b"B", "bob", None)
    assert hint["code"] == "auth_failed"
    assert "register with a password" in hint["message"]
    assert b.login(b"B", "bob", "short")["code"] == "bad_request"  # 8 characters at least
    assert b.login(b"B", "Bob", PASSWORD)["type"] == "welcome"
    account = b.store.account("bob")
    assert account is not None
    assert account.name == "Bob"
    assert accounts.describe(account.hash) == "argon2id m=7168,t=5,p=1"
    # The name is Bob's now: another password gets nowhere.
    assert b.login(b"C", "bob", "another password")["code"] == "auth_failed"


def test_a_sign_up_for_a_name_online_is_name_taken(make: Any) -> None:
    b = make(auth="accounts", signup=True)
    assert b.login(b"A", "alice", None)["type"] == "welcome"  # a free name, taken
    assert b.login(b"B", "alice", PASSWORD)["code"] == "name_taken"


def test_two_sign_ups_of_one_name_at_once_make_one_account(make: Any) -> None:
    b = make(auth="accounts", signup=True)
    register = {"type": "register", "user": "dora", "proto": 1, "password": PASSWORD}
    assert not b.send(b"A", {**register, "ref": 1})
    assert not b.send(b"B", {**register, "ref": 2, "password": "other password"})
    replies = b.finish(2)
    answers = sorted(reply["type"] if reply["type"] == "welcome" else reply["code"]
                     for (reply,) in replies.values())  # fmt: skip
    assert answers == ["name_taken", "welcome"]


# ----------------------------------------------------------------------- limits


def test_the_sixth_failure_in_a_minute_is_rate_limited_with_retry_after(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    for n in range(5):
        assert b.login(b"A", "alice", f"guess {n}")["code"] == "auth_failed"
        b.now += 1
    limited = b.login(b"A", "alice", PASSWORD)  # right, but too late
    assert limited["code"] == "rate_limited"
    assert limited["retry_after"] == pytest.approx(55.0)
    assert list(limited) == ["type", "ref", "code", "message", "retry_after"]
    b.now += 55.0
    assert b.login(b"A", "alice", PASSWORD)["type"] == "welcome"


def test_guesses_sent_at_once_are_counted_as_they_arrive(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    at_once: Replies = {}
    for n in range(10):
        rid = f"R{n}".encode()
        msg = {"type": "register", "user": "alice", "proto": 1, "ref": n, "password": f"g{n}"}
        at_once.update(b.send(rid, msg))
    # Five are being checked; the other five were refused before any check ended.
    assert len(b.core.logins.pending) == 5
    assert sorted(r["code"] for (r,) in at_once.values()) == ["rate_limited"] * 5
    later = b.finish(5)
    assert sorted(r["code"] for (r,) in later.values()) == ["auth_failed"] * 5


def test_a_right_password_gives_its_attempt_back(make: Any) -> None:
    b = make(auth="accounts", login_attempts_per_account=2)
    b.add_account("alice")
    assert b.login(b"A", "alice", "guess")["code"] == "auth_failed"
    for rid in (b"B", b"C", b"D"):  # each takes the session over: no failure counted
        assert b.login(rid, "alice", PASSWORD)["type"] == "welcome"
    assert b.login(b"E", "alice", "guess")["code"] == "auth_failed"
    assert b.login(b"F", "alice", PASSWORD)["code"] == "rate_limited"


def test_an_address_has_its_own_limit_across_accounts(make: Any) -> None:
    b = make(auth="accounts", login_attempts_per_address=3)
    for name in ("a1", "a2", "a3", "a4"):
        b.add_account(name)
    for name in ("a1", "a2", "a3"):
        assert b.login(b"X", name, "guess", peer="10.0.0.9")["code"] == "auth_failed"
    limited = b.login(b"X", "a4", PASSWORD, peer="10.0.0.9")
    assert limited["code"] == "rate_limited"
    assert "from 10.0.0.9" in limited["message"]
    assert 0 < limited["retry_after"] <= 60
    assert b.login(b"Y", "a4", PASSWORD, peer="10.0.0.10")["type"] == "welcome"


def test_too_many_checks_waiting_is_server_busy(make: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(logins, "MAX_PENDING", 2)
    b = make(auth="accounts", login_attempts_per_account=0)
    b.add_account("alice")
    msg = {"type": "register", "user": "alice", "proto": 1, "password": PASSWORD}
    assert not b.send(b"A", msg)
    assert not b.send(b"B", msg)
    (busy,) = b.send(b"C", msg)[b"C"]
    assert busy["code"] == "server_busy"
    b.finish(2)


# ---------------------------------------------------------------- the connection


def test_a_second_register_during_a_check_is_already_registered(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    msg = {"type": "register", "user": "alice", "proto": 1, "password": PASSWORD}
    assert not b.send(b"A", {**msg, "ref": 1})
    (again,) = b.send(b"A", {**msg, "ref": 2})[b"A"]
    assert (again["code"], again["ref"]) == ("already_registered", 2)
    (welcome,) = b.finish()[b"A"]
    assert (welcome["type"], welcome["ref"]) == ("welcome", 1)


def test_bye_during_a_check_leaves_no_session(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    msg = {"type": "register", "user": "alice", "proto": 1, "password": PASSWORD, "ref": 1}
    assert not b.send(b"A", msg)
    (bye,) = b.send(b"A", {"type": "bye", "ref": 2})[b"A"]
    assert (bye["type"], bye["ref"]) == ("bye", 2)
    assert b.finish() == {}
    assert len(b.core.state) == 0


def test_a_login_takes_over_the_users_session(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    first = b.login(b"A", "alice", PASSWORD, rooms=["general", "dev"])
    b.send(b"B", {"type": "register", "user": "alice", "proto": 1, "password": PASSWORD})
    replies = b.finish()
    assert replies[b"A"] == [{"type": "closed", "reason": "replaced"}]
    (second,) = replies[b"B"]
    # The same session (its rooms), under a new token: the old one resumes nothing.
    assert second["session"] != first["session"]
    assert set(second["rooms"]) == {"general", "dev"}
    assert len(b.core.state) == 1
    assert b.reply(b"A", {"type": "ping"})["code"] == "not_registered"


def test_a_login_takes_over_a_session_left_detached_by_a_restart(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    first = b.login(b"A", "alice", PASSWORD)
    assert b.restart() == 1
    b.core.logins._notify = b.done.set
    again = b.login(b"B", "alice", PASSWORD)
    assert again["session"] != first["session"]  # a login gives it a new token
    assert len(b.core.state) == 1


def test_a_resume_token_stands_for_the_password_until_it_changes(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    welcome = b.login(b"A", "alice", PASSWORD)
    token = welcome["session"]
    # A reconnect: the token is enough, no password check (none pending).
    resumed = b.login(b"B", "alice", None, resume=token)
    assert resumed["session"] == token
    # Also after a broker restart: the login is in the store.
    b.restart()
    b.core.logins._notify = b.done.set
    assert b.login(b"C", "alice", None, resume=token)["session"] == token
    # The password changes (`zmqchat account passwd`): the token no longer does.
    with sqlite3.connect(b.path) as db:
        assert accounts.change_password(db, "alice", Hasher(7168, 5).hash("new horse"), 2.0)
    assert b.login(b"D", "alice", None, resume=token)["code"] == "auth_failed"
    assert b.login(b"D", "alice", PASSWORD, resume=token)["code"] == "auth_failed"
    taken = b.login(b"D", "alice", "new horse", resume=token)
    # The same session, now for the new password, under a new token.
    assert taken["session"] != token
    assert len(b.core.state) == 1
    assert b.login(b"E", "alice", None, resume=taken["session"])["session"] == taken["session"]
    assert b.login(b"F", "alice", None, resume=token)["code"] == "auth_failed"


def test_a_session_opened_without_a_password_needs_one_once_the_name_has_an_account(
    make: Any,
) -> None:
    b = make(auth="accounts")
    token = b.login(b"A", "bob", None)["session"]
    assert b.login(b"B", "bob", None, resume=token)["session"] == token
    b.add_account("bob")
    assert b.login(b"C", "bob", None, resume=token)["code"] == "auth_failed"
    assert b.login(b"C", "bob", PASSWORD, resume=token)["session"] != token  # a new token


def test_a_deleted_account_leaves_its_sessions_unresumable(make: Any) -> None:
    b = make(auth="accounts")
    b.add_account("alice")
    token = b.login(b"A", "alice", PASSWORD)["session"]
    with sqlite3.connect(b.path) as db:
        assert accounts.delete(db, "alice")
    # The name is free again, but this session can't be resumed as it was.
    refused = b.login(b"B", "alice", None, resume=token)
    assert refused["code"] == "name_taken"


def test_a_password_is_never_logged(make: Any, caplog: pytest.LogCaptureFixture) -> None:
    b = make(auth="accounts", login_attempts_per_account=2)
    b.add_account("alice")
    secrets = ["guess one two", "guess three four", "correct horse", "sign me up please"]
    with caplog.at_level(logging.DEBUG, "zmqchat"):
        b.login(b"A", "alice", secrets[0])
        b.login(b"A", "alice", secrets[1])
        b.login(b"A", "alice", secrets[2])  # rate limited
        b.login(b"B", "nobody", secrets[3])  # refused: no sign-up
    assert "failed login: wrong password for alice from 10.0.0.1" in caplog.text
    assert "too many failed logins for alice" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text


def test_a_register_records_repr_hides_its_password() -> None:
    from zmqchat.common.requests import Register

    assert "hunter2" not in repr(Register(user="alice", password="hunter2"))


def test_a_password_over_1024_characters_is_a_bad_request(make: Any) -> None:
    b = make(auth="accounts")
    refused = b.login(b"A", "alice", "x" * 1025)
    assert (refused["code"], refused["message"]) == (
        "bad_request",
        "'password' is longer than 1024 characters",
    )
