"""Accounts without a broker: the attempt limiter, argon2id hashing with its
parameters in each hash, the accounts table and the schema upgrade that adds it."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zmqchat.broker import accounts
from zmqchat.broker.accounts import AttemptLimiter, Hasher, check_new_password
from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.common.config import BrokerConfig
from zmqchat.errors import ConfigError

# Below what the config allows for a broker (quick tests), but real argon2id.
CHEAP = Hasher(7168, 1)


# ------------------------------------------------------------------ attempt limits


def test_the_limit_refuses_the_attempt_past_it_and_says_when_to_retry() -> None:
    limiter = AttemptLimiter(5, window=60.0)
    for t in range(5):
        assert limiter.take("alice", 100.0 + t) is None
    assert limiter.take("alice", 110.0) == pytest.approx(50.0)  # the first left at 160
    # A refused attempt is not counted: the lockout does not grow by retrying.
    assert limiter.take("alice", 159.0) == pytest.approx(1.0)
    assert limiter.take("alice", 160.0) is None  # the first attempt has left the window
    assert limiter.take("alice", 160.5) is not None  # the second leaves at 161


def test_each_key_has_its_own_allowance() -> None:
    limiter = AttemptLimiter(2)
    assert limiter.take("alice", 0.0) is None
    assert limiter.take("alice", 0.0) is None
    assert limiter.take("alice", 0.0) is not None
    assert limiter.take("bob", 0.0) is None


def test_a_refunded_attempt_frees_its_slot() -> None:
    limiter = AttemptLimiter(2)
    assert limiter.take("alice", 1.0) is None
    assert limiter.take("alice", 2.0) is None
    limiter.refund("alice", 2.0)  # that one turned out right
    assert limiter.take("alice", 3.0) is None
    assert limiter.take("alice", 4.0) is not None
    limiter.refund("nobody", 4.0)  # harmless


def test_a_limit_of_zero_refuses_nothing() -> None:
    limiter = AttemptLimiter(0)
    assert all(limiter.take("alice", 0.0) is None for _ in range(1000))
    assert len(limiter) == 0


def test_keys_without_recent_attempts_are_forgotten() -> None:
    limiter = AttemptLimiter(5, window=60.0)
    for n in range(1000):
        limiter.take(f"10.0.{n // 250}.{n % 250}", 0.0)
    assert len(limiter) == 1000
    limiter.take("10.9.9.9", 61.0)  # a minute later the others are stale
    assert len(limiter) == 1


# ------------------------------------------------------------------------ hashing


def test_a_hash_is_argon2id_and_carries_its_parameters() -> None:
    hashed = Hasher(19456, 2).hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert accounts.describe(hashed) == "argon2id m=19456,t=2,p=1"
    assert "correct horse" not in hashed


def test_the_default_parameters_are_owasps() -> None:
    hashed = Hasher.of(BrokerConfig()).hash("correct horse")
    assert accounts.describe(hashed) == "argon2id m=19456,t=2,p=1"


def test_verify_tells_the_right_password_from_a_wrong_one() -> None:
    hashed = CHEAP.hash("correct horse")
    assert CHEAP.verify(hashed, "correct horse") == (True, None)
    assert CHEAP.verify(hashed, "correct horsE") == (False, None)
    assert CHEAP.verify(hashed, "") == (False, None)


def test_a_hash_with_old_parameters_still_verifies_and_comes_back_stronger() -> None:
    old = CHEAP.hash("correct horse")
    stronger = Hasher(8192, 2)
    ok, new = stronger.verify(old, "correct horse")
    assert ok
    assert new is not None
    assert accounts.describe(new) == "argon2id m=8192,t=2,p=1"
    assert stronger.verify(new, "correct horse") == (True, None)
    assert stronger.verify(old, "wrong horse") == (False, None)  # no rehash on failure


def test_an_unreadable_hash_fails_the_login_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "zmqchat.broker"):
        assert CHEAP.verify("not a hash", "correct horse") == (False, None)
    assert "can't be read" in caplog.text


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 8 characters"),
        ("  padded password", "start or end with a space"),
        ("eight ch", None),
        ("correct horse battery staple", None),
    ],
)
def test_new_passwords(password: str, problem: str | None) -> None:
    found = check_new_password(password)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_hash_parameters_below_owasps_least_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="hash_memory_kib"):
        BrokerConfig(hash_memory_kib=4096)
    with pytest.raises(ConfigError, match="hash_time_cost"):
        BrokerConfig(hash_time_cost=0)
    with pytest.raises(ConfigError, match="hash_time_cost times hash_memory_kib"):
        BrokerConfig(hash_memory_kib=7168, hash_time_cost=4)
    BrokerConfig(hash_memory_kib=7168, hash_time_cost=5)  # OWASP's least
    BrokerConfig(hash_memory_kib=47104, hash_time_cost=1)  # and its most memory
    with pytest.raises(ConfigError, match="auth must be one of"):
        BrokerConfig(auth="closed")
    with pytest.raises(ConfigError, match="login_attempts_per_account"):
        BrokerConfig(login_attempts_per_account=-1)


# -------------------------------------------------------------------------- table


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_database(str(tmp_path / "store.db"), fsync=False)
    yield conn
    conn.close()


def test_an_account_is_found_by_its_name_in_any_case(db: sqlite3.Connection) -> None:
    made = accounts.insert(db, "Alice", "$h1", 10.0)
    assert made is not None
    found = accounts.find(db, "ALICE")
    assert found == made
    assert (found.name, found.generation, found.created, found.changed) == ("Alice", 1, 10.0, 10.0)
    assert accounts.find(db, "bob") is None


def test_a_name_has_one_account(db: sqlite3.Connection) -> None:
    assert accounts.insert(db, "alice", "$h1", 1.0) is not None
    assert accounts.insert(db, "ALICE", "$h2", 2.0) is None
    found = accounts.find(db, "alice")
    assert found is not None
    assert found.hash == "$h1"


def test_a_new_password_is_a_new_generation_a_rehash_is_not(db: sqlite3.Connection) -> None:
    first = accounts.insert(db, "alice", "$h1", 1.0)
    assert first is not None
    accounts.rehash(db, first, "$h1-stronger")
    found = accounts.find(db, "alice")
    assert found is not None
    assert (found.hash, found.generation) == ("$h1-stronger", 1)
    assert accounts.change_password(db, "Alice", "$h2", 5.0)
    found = accounts.find(db, "alice")
    assert found is not None
    assert (found.hash, found.generation, found.changed) == ("$h2", 2, 5.0)
    # A rehash of the old password that finishes after the change must not undo it.
    accounts.rehash(db, first, "$h1-late")
    found = accounts.find(db, "alice")
    assert found is not None
    assert found.hash == "$h2"
    assert not accounts.change_password(db, "bob", "$h", 5.0)


def test_an_account_deleted_and_added_again_is_another_account(db: sqlite3.Connection) -> None:
    first = accounts.insert(db, "alice", "$h1", 1.0)
    assert accounts.delete(db, "ALICE")
    assert not accounts.delete(db, "alice")
    again = accounts.insert(db, "alice", "$h1", 2.0)
    assert first is not None
    assert again is not None
    assert again.id != first.id
    assert [a.name for a in accounts.every(db)] == ["alice"]


def test_a_store_others_can_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"")
    os.chmod(path, 0o600)
    assert accounts.exposed(str(path)) is None
    os.chmod(path, 0o644)
    warning = accounts.exposed(str(path))
    assert warning is not None
    assert "0644" in warning
    assert "chmod 600" in warning
    assert accounts.exposed(str(tmp_path / "missing.db")) is None


def test_a_version_2_store_gets_the_account_tables_as_it_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    conn = open_database(path, fsync=False)
    # What a store written by the release before accounts looks like.
    conn.executescript(
        "DROP TRIGGER sessions_logins; DROP TABLE logins; DROP TABLE accounts;"
        " PRAGMA user_version=2;"
    )
    conn.execute(
        "INSERT INTO sessions (token, user, rooms, client, created)"
        " VALUES ('t', 'a', '[]', NULL, 1)"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as again:
        assert again.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        assert accounts.insert(again, "alice", "$h", 1.0) is not None
        assert again.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
        sid = again.execute("SELECT sid FROM sessions").fetchone()[0]
        again.execute("INSERT INTO logins (sid, account, generation) VALUES (?, 1, 1)", (sid,))
        # A session's login goes with the session.
        again.execute("DELETE FROM sessions WHERE sid = ?", (sid,))
        assert again.execute("SELECT COUNT(*) FROM logins").fetchone()[0] == 0


# --------------------------------------------------------- zmqchat account's input


class Typed(io.StringIO):
    """Standard input that is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_new_password_is_asked_twice_on_a_terminal() -> None:
    from zmqchat.cli.account import read_new_password
    from zmqchat.client.chat.failures import ExitCode, ScriptError

    asked: list[str] = []

    def answers(*typed: str) -> Callable[[str], str]:
        replies = iter(typed)

        def ask(prompt: str) -> str:
            asked.append(prompt)
            return next(replies)

        return ask

    assert read_new_password("alice", Typed(), answers("correct horse", "correct horse")) == (
        "correct horse"
    )
    assert asked == ["new password for alice: ", "the same again: "]
    with pytest.raises(ScriptError) as differ:
        read_new_password("alice", Typed(), answers("correct horse", "correct hose"))
    assert differ.value.code == ExitCode.USAGE
    assert "differ" in differ.value.message
    # From a pipe: the first line, once, without its line end; nothing asked.
    piped = io.StringIO("correct horse\r\nsecond line\n")
    assert read_new_password("alice", piped, answers()) == "correct horse"
    with pytest.raises(ScriptError, match="no password given"):
        read_new_password("alice", io.StringIO(""), answers())
