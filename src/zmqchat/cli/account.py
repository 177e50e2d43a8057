"""``zmqchat account add|passwd|del|list``: the accounts of a broker's store.

It works while the broker runs: it opens the SQLite store beside it (WAL lets a
second process write, one short statement at a time, with the hash computed before),
and never takes the broker's lock on the store file. The broker reads an account at
each login, so a change counts from the next one. A password is read twice from a
terminal, or once (its first line) from a pipe; never from the command line.

With ``engine = "redis"`` (issue 17) add, passwd and del go to the engine's Redis
instead, as records every node applies to its store (broker/cluster/accounts.py):
made once, an account works on every node. list shows the store's copy.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from zmqchat.cli.helptext import exit_statuses
from zmqchat.cli.options import Subparsers
from zmqchat.client.chat.failures import ExitCode, ScriptError
from zmqchat.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from zmqchat.broker.accounts import Account
    from zmqchat.common.config import BrokerConfig

ACCOUNT_EXITS: Final = {
    0: "done",
    1: "refused: the account exists (add) or doesn't (passwd, del), or the store "
    "can't be used (reason on stderr)",
    2: "usage error: a bad name, the passwords typed differ, a password too short, "
    "or a configuration error",
}

ACCOUNT_EPILOG = """\
the store: --db FILE, else the broker's (`db` / `data_dir` from --config, or
$ZMQCHAT_CONFIG, or broker.toml in the user config dir, and ZMQCHAT_DB /
ZMQCHAT_DATA_DIR). It works while the broker runs; the broker reads accounts at
each login, so a change counts from the next one. A password change or deletion
also keeps the sessions opened with the old password from being resumed.
With engine = "redis" (ZMQCHAT_ENGINE, ZMQCHAT_ENGINE_URL) add, passwd and del
write to the engine's Redis, for every node; list shows the store's copy.

a password is asked twice on a terminal, or read once from stdin (its first
line) for scripts; never from the command line:
  zmqchat account add alice                       asks twice
  pass show zmqchat/bob | zmqchat account add bob
  zmqchat account passwd alice --db /var/lib/zmqchat/zmqchat.db
  zmqchat account del mallory
  zmqchat account list --json
"""


def add_account(sub: Subparsers) -> None:
    p = sub.add_parser(
        "account",
        help="add, change, delete or list the accounts of a broker (auth = accounts)",
        description="Manage the accounts (names with a password) of a broker's store.",
        epilog=f"{ACCOUNT_EPILOG}\n{exit_statuses(ACCOUNT_EXITS)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=("add", "passwd", "del", "list"), help="what to do")
    p.add_argument("name", nargs="?", metavar="NAME", help="the user name (not for list)")
    p.add_argument("--db", metavar="FILE", help="SQLite store (default: the broker's)")
    p.add_argument("--config", metavar="FILE", help="the broker's TOML settings")
    p.add_argument("--json", action="store_true", help="list: a JSON array")
    p.set_defaults(func=run_account)


def run_account(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """Run ``zmqchat account``; every failure is one line on stderr."""
    try:
        return _run(args, stdin or sys.stdin, ask)
    except ScriptError as exc:
        print(f"zmqchat account: {exc.message}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"zmqchat account: {exc}", file=sys.stderr)
        return 2
    except (StoreError, sqlite3.Error, OSError) as exc:
        print(f"zmqchat account: the store can't be used: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, stdin: TextIO, ask: Callable[[str], str]) -> int:
    from zmqchat.broker import accounts
    from zmqchat.common.config import BrokerConfig, load_config
    from zmqchat.common.protocol import is_valid_name

    config = load_config(
        BrokerConfig, file=args.config, overrides={"db": args.db}, default_file="broker.toml"
    )
    if args.action == "list":
        if args.name is not None:
            raise ScriptError(ExitCode.USAGE, "list takes no NAME")
        with _store(config, create=False) as db:
            _list(accounts.every(db), args.json)
        return 0
    name = args.name
    if name is None:
        raise ScriptError(ExitCode.USAGE, f"{args.action} needs a NAME")
    if not is_valid_name(name):
        raise ScriptError(
            ExitCode.USAGE, f"invalid name {name!r}: use 1-32 letters, digits, '_' or '-'"
        )
    if config.engine == "redis":
        return _run_engine(args.action, name, config, stdin, ask)
    if args.action == "del":
        with _store(config, create=False) as db:
            if not accounts.delete(db, name):
                raise ScriptError(ExitCode.REFUSED, f"{name} has no account")
        print(f"deleted the account {name}")
        return 0
    if args.action == "passwd":
        with _store(config, create=False) as db:
            if accounts.find(db, name) is None:  # before asking for a password
                raise ScriptError(ExitCode.REFUSED, f"{name} has no account (add it)")
    elif args.action == "add" and Path(config.db_path).exists():
        with _store(config, create=False) as db:
            existing = accounts.find(db, name)
            if existing is not None:
                raise ScriptError(
                    ExitCode.REFUSED,
                    f"{existing.name} already has an account (passwd changes it)",
                )
    password = read_new_password(name, stdin, ask)
    # Hashed before the store is written: the write itself is one short statement,
    # which a broker serving the same store waits for without noticing.
    hashed = accounts.Hasher.of(config).hash(password)
    with _store(config, create=args.action == "add") as db:
        if args.action == "add":
            if accounts.insert(db, name, hashed, time.time()) is None:
                raise ScriptError(
                    ExitCode.REFUSED, f"{name} already has an account (passwd changes it)"
                )
            print(f"added the account {name}")
        elif not accounts.change_password(db, name, hashed, time.time()):
            raise ScriptError(ExitCode.REFUSED, f"{name} has no account (add it)")
        else:
            print(f"changed the password of {name}")
    return 0


def _run_engine(
    action: str, name: str, config: BrokerConfig, stdin: TextIO, ask: Callable[[str], str]
) -> int:
    """add, passwd or del as records in the engine's Redis, which every node applies."""
    from zmqchat.broker import accounts

    try:
        import redis

        from zmqchat.broker.cluster.accounts import AccountLog
    except ImportError:
        raise ConfigError("engine = \"redis\" needs pip install 'zmqchat[redis]'") from None
    client = redis.Redis.from_url(config.engine_url or "")
    try:
        log = AccountLog(client, f"account:{os.getpid()}", config.records_kept)
        if action == "del":
            if log.drop(name) is None:
                raise ScriptError(ExitCode.REFUSED, f"{name} has no account")
            print(f"deleted the account {name} on every node")
            return 0
        held = log.held(name)  # before asking for a password
        if held and action == "add":
            raise ScriptError(
                ExitCode.REFUSED, f"{name} already has an account (passwd changes it)"
            )
        if not held and action == "passwd":
            raise ScriptError(ExitCode.REFUSED, f"{name} has no account (add it)")
        password = read_new_password(name, stdin, ask)
        hashed = accounts.Hasher.of(config).hash(password)
        if action == "add":
            # The name is checked again in the script that adds it: another `add`
            # may have come in meanwhile.
            if log.add(name, hashed, time.time(), _highest_id(config)) is None:
                raise ScriptError(
                    ExitCode.REFUSED, f"{name} already has an account (passwd changes it)"
                )
            print(f"added the account {name} for every node")
        elif log.change(name, hashed, time.time()) is None:
            raise ScriptError(ExitCode.REFUSED, f"{name} has no account (add it)")
        else:
            print(f"changed the password of {name} on every node")
        return 0
    except redis.RedisError as exc:
        raise ScriptError(ExitCode.REFUSED, f"the engine's Redis can't be used: {exc}") from None
    finally:
        client.close()


def _highest_id(config: BrokerConfig) -> int:
    """The highest account id the store here holds (0: none, or no store): the
    engine numbers past it even if its Redis lost the counter."""
    from zmqchat.broker.cluster.accounts import highest_id

    if not Path(config.db_path).exists():
        return 0
    try:
        with _store(config, create=False) as db:
            return highest_id(db)
    except (sqlite3.Error, OSError, ScriptError):
        return 0


def read_new_password(name: str, stdin: TextIO, ask: Callable[[str], str]) -> str:
    """A new password: asked twice on a terminal, else the first line of stdin."""
    from zmqchat.broker.accounts import check_new_password

    if stdin.isatty():
        password = ask(f"new password for {name}: ")
        if ask("the same again: ") != password:
            raise ScriptError(ExitCode.USAGE, "the passwords typed differ; nothing changed")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise ScriptError(ExitCode.USAGE, "no password given (type it, or pipe it on stdin)")
    problem = check_new_password(password)
    if problem is not None:
        raise ScriptError(ExitCode.USAGE, problem)
    return password


@contextlib.contextmanager
def _store(config: BrokerConfig, *, create: bool) -> Iterator[sqlite3.Connection]:
    """The store's SQLite database, without the broker's lock (see module doc)."""
    from zmqchat.broker.accounts import exposed
    from zmqchat.broker.schema import open_database

    path = config.db_path
    if not Path(path).exists():
        if not create:
            raise ScriptError(
                ExitCode.REFUSED, f"there is no store at {path} (give --db, or add an account)"
            )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # It will hold password hashes: created for its owner only.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    db = open_database(path, fsync=config.fsync)
    try:
        warning = exposed(path)
        if warning:
            print(f"zmqchat account: warning: {warning}", file=sys.stderr)
        yield db
    finally:
        db.close()


def _list(rows: list[Account], as_json: bool) -> None:
    from zmqchat.broker.accounts import describe

    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": a.name,
                        "created": a.created,
                        "changed": a.changed,
                        "hash": describe(a.hash),
                    }
                    for a in rows
                ]
            )
        )
        return
    if not rows:
        print("zmqchat account: no accounts", file=sys.stderr)
    width = max((len(a.name) for a in rows), default=0)
    for a in rows:
        print(
            f"{a.name:<{width}}  created {_day(a.created)}  password of {_day(a.changed)}"
            f"  {describe(a.hash)}"
        )


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


__all__ = ["add_account", "read_new_password", "run_account"]
