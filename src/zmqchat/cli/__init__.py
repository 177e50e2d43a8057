"""The ``zmqchat`` command and its subcommands.

One module per family: :mod:`~zmqchat.cli.broker`, :mod:`~zmqchat.cli.account`,
:mod:`~zmqchat.cli.interactive` (``chat``, ``gui``), :mod:`~zmqchat.cli.oneshot`
(``send``, ``tail``, ...), :mod:`~zmqchat.cli.editing` (``edit``, ``delete``) and
:mod:`~zmqchat.cli.moderation` (``topic``, ``kick``,
``ban``, ...), on the
shared client options of :mod:`~zmqchat.cli.options`. Building the parser loads
neither zmq nor the client library, so ``--help`` is quick; a command's runner
imports what it needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from zmqchat._version import __version__
from zmqchat.cli.account import add_account
from zmqchat.cli.broker import add_broker
from zmqchat.cli.editing import add_editing_commands
from zmqchat.cli.files import add_file_commands
from zmqchat.cli.interactive import add_interactive_commands
from zmqchat.cli.keys import add_keygen
from zmqchat.cli.moderation import add_moderation_commands
from zmqchat.cli.oneshot import add_oneshot_commands
from zmqchat.cli.options import CommandParser
from zmqchat.cli.search import add_search_command
from zmqchat.errors import ZmqchatError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zmqchat",
        description="zmqchat: rooms, private messages and durable history over ZeroMQ.",
    )
    parser.add_argument("--version", action="version", version=f"zmqchat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    add_broker(sub)
    add_account(sub)
    add_keygen(sub)
    add_interactive_commands(sub)
    add_oneshot_commands(sub)
    add_search_command(sub)
    add_editing_commands(sub)
    add_moderation_commands(sub)
    add_file_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except ZmqchatError as exc:
        from zmqchat.client.chat.failures import classify

        failure = classify(exc)
        print(f"zmqchat {args.command}: {failure.report}", file=sys.stderr)
        return failure.exit_status
    return code


__all__ = ["build_parser", "main"]
