"""The ``search`` command: a thin layer over :mod:`zmqchat.client.console.searching`;
like the other script commands (:mod:`.oneshot`), only a runner imports it."""

from __future__ import annotations

import argparse

from zmqchat.cli.options import Subparsers, client_command, client_config, positive_int
from zmqchat.client.chat.failures import ExitCode
from zmqchat.client.console.exits import ONESHOT_EXITS, SIGNALS_NOTE, exit_statuses


def add_search_command(sub: Subparsers) -> None:
    p = client_command(
        sub,
        "search",
        help="find the messages that hold every word given",
        description="Print the messages, newest first, that hold every one of WORDS (in "
        "any order and case; an edited message by its latest text, a deleted one not at "
        "all): in every room a join would be allowed to, or in ROOM; or, with --with USER, "
        "in your private messages with USER (those of your account, logged in with "
        "--user and its password). It reads without "
        "joining, so it leaves no trace in the rooms. As grep, the exit status is 0 when "
        "something matched and 1 when nothing did.",
        epilog=lambda: (
            "examples:\n"
            "  zmqchat search deploy failed\n"
            "  zmqchat search --room ci --limit 5 timeout\n"
            "  zmqchat search --json release | jq -r .text\n"
            "  ZMQCHAT_PASSWORD=... zmqchat search --user alice --with bob invoice\n"
            "  zmqchat search -q outage && echo 'someone said it'\n\n" + _exit_statuses()
        ),
        user=False,
    )
    p.add_argument(
        "--user",
        help="name to register as (default search-HOST-PID, unique per process)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--room", help="search only this room, e.g. --room ci")
    where.add_argument(
        "--with",
        dest="with_user",
        metavar="USER",
        help="search your private messages with USER instead of rooms (needs --user)",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=20,
        metavar="N",
        help="at most N matches, 1..100 (default 20)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line, as `tail --json`")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing: only the status")
    p.add_argument("words", nargs="+", metavar="WORD", help="the words to look for")
    p.set_defaults(func=_run)


def _exit_statuses() -> str:
    rows = dict(ONESHOT_EXITS)
    del rows[ExitCode.TIMED_OUT]
    rows[ExitCode.REFUSED] = (
        "nothing matched (as grep), or the broker refused the name or the request "
        "(its reason on stderr)"
    )
    return exit_statuses(rows, note=SIGNALS_NOTE)


def _run(args: argparse.Namespace) -> int:
    import io

    from zmqchat.client.console import oneshot as scripting
    from zmqchat.client.console.searching import search

    def body() -> int:
        return search(
            client_config(args),
            words=args.words,
            room=args.room,
            with_user=args.with_user,
            limit=args.limit,
            as_json=args.json,
            user=args.user,
            out=io.StringIO() if args.quiet else None,
        )

    return scripting.run("search", body)


__all__ = ["add_search_command"]
