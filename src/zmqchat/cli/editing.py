"""The ``edit`` and ``delete`` commands: a thin layer over
:mod:`zmqchat.client.console.editing`; like the other script commands, only a
runner imports it."""

from __future__ import annotations

import argparse
from typing import Final

from zmqchat.cli.options import Subparsers, client_config, script_command

_WHO: Final = (
    "Only the message's sender may: give that name with --user (and its password, if it "
    "has an account), within the broker's edit_window (15 minutes by default). It does "
    "not join the room."
)


def add_editing_commands(sub: Subparsers) -> None:
    edit = script_command(
        sub,
        "edit",
        help="change the text of one of your messages in a room",
        description="Make message SEQ of ROOM (without SEQ: your newest one there) read "
        "TEXT; everyone in the room sees the change, and history shows the new text "
        f"marked edited. {_WHO}",
        examples="  zmqchat edit --user ci-bot ci build 45 passed, after a retry\n"
        "  zmqchat edit --user ci-bot ci 17 build 44 passed\n",
    )
    _common(edit)
    edit.add_argument(
        "words",
        nargs="+",
        metavar="[SEQ] TEXT",
        help="the message's seq (zmqchat history --json shows them), then the new text",
    )
    edit.set_defaults(func=_run)
    delete = script_command(
        sub,
        "delete",
        help="withdraw one of your messages from a room",
        description="Withdraw message SEQ of ROOM (without SEQ: your newest one there): "
        f"its text goes from the broker's store, and history shows it deleted. {_WHO}",
        examples="  zmqchat delete --user ci-bot ci\n  zmqchat delete --user ci-bot ci 17\n",
    )
    _common(delete)
    delete.add_argument("seq", nargs="?", type=int, metavar="SEQ", help="the message's seq")
    delete.set_defaults(func=_run, words=None)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", help="your name, the message's sender (or ZMQCHAT_USER)")
    p.add_argument("--json", action="store_true", help="print the ack as one JSON object")
    p.add_argument("room", metavar="ROOM", help="the room, e.g. general")


def _run(args: argparse.Namespace) -> int:
    from zmqchat.client.chat.failures import ExitCode, ScriptError
    from zmqchat.client.chat.message_commands import message_seq
    from zmqchat.client.console.editing import change
    from zmqchat.client.console.oneshot import run

    def body() -> int:
        seq, text = getattr(args, "seq", None), None
        if args.words is not None:
            first = message_seq(args.words[0]) if len(args.words) > 1 else None
            seq = first
            text = " ".join(args.words[1:] if first is not None else args.words)
            if not text.strip():
                raise ScriptError(ExitCode.USAGE, "give the new TEXT")
        config = client_config(args)
        if config.user is None:
            raise ScriptError(ExitCode.USAGE, "name the message's sender with --user NAME")
        return change(
            config, room=args.room, seq=seq, text=text, user=config.user, as_json=args.json
        )

    return run(args.command, body)


__all__ = ["add_editing_commands"]
