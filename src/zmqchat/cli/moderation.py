"""The one-line commands of a room's topic and moderation: topic, kick, ban, unban,
op, deop, lock, unlock.

Each is a thin layer over :mod:`zmqchat.client.console.moderation`; like the other
script commands (:mod:`.oneshot`), only a runner imports it.
"""

from __future__ import annotations

import argparse
from typing import Final

from zmqchat.cli.options import CommandParser, Subparsers, client_config, script_command
from zmqchat.common.durations import parse_duration

OPERATOR: Final = (
    "Needs an operator of the room: give its name with --user (and its password, if "
    "it has an account), while that user is not connected elsewhere (in a chat, use "
    "/{name} instead). It does not join the room."
)

# name -> (help, description of what it does, its examples)
ACTIONS: Final = {
    "kick": (
        "remove a user from a room (an operator's command)",
        "Remove USER from ROOM, with an optional REASON shown to everyone; they may join "
        "again. The room's history keeps it as a moderation event.",
        "  zmqchat kick --user alice general troll flooding the room\n",
    ),
    "ban": (
        "keep a user out of a room (an operator's command)",
        "Keep USER out of ROOM (removing them if they are in it), for --for DURATION or "
        "until `zmqchat unban`, with an optional REASON. With accounts the ban is the "
        "account's; in open mode the name's, and anyone may take another name "
        "(docs/security.md).",
        "  zmqchat ban --user alice --for 1d general troll spamming links\n",
    ),
    "unban": (
        "let a banned user into a room again (an operator's command)",
        "Lift USER's ban from ROOM.",
        "  zmqchat unban --user alice general troll\n",
    ),
    "op": (
        "make a user an operator of a room (an operator's command)",
        "Make USER an operator of ROOM: they may then do all an operator does.",
        "  zmqchat op --user alice general bob\n",
    ),
    "deop": (
        "take operator from a user (an operator's command)",
        "Take operator status in ROOM from USER (the room's creator's too).",
        "  zmqchat deop --user alice general bob\n",
    ),
    "lock": (
        "let only operators set a room's topic (an operator's command)",
        "Lock ROOM's topic: from now on only its operators may set it.",
        "  zmqchat lock --user alice general\n",
    ),
    "unlock": (
        "let anyone who may post set a room's topic (an operator's command)",
        "Unlock ROOM's topic.",
        "  zmqchat unlock --user alice general\n",
    ),
}


def add_moderation_commands(sub: Subparsers) -> None:
    """``topic``, then ``kick``, ``ban``, ``unban``, ``op``, ``deop``, ``lock``,
    ``unlock``."""
    _add_topic(sub)
    for name in ACTIONS:
        _add_action(sub, name)


def _parser(
    sub: Subparsers, name: str, help: str, description: str, examples: str
) -> CommandParser:
    p = script_command(sub, name, help=help, description=description, examples=examples)
    p.add_argument(
        "--user",
        help=f"name to register as (default {name}-HOST-PID, unique per process: no "
        "operator of any room)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the broker's answer as one JSON object"
    )
    p.add_argument("room", metavar="ROOM", help="the room, e.g. general")
    return p


def _add_topic(sub: Subparsers) -> None:
    p = _parser(
        sub,
        "topic",
        "show or set a room's topic",
        "Print ROOM's topic (who set it, and when, on stderr), or set it to TEXT (or "
        "clear it with --clear): a topic event in the room's history. Anyone who may "
        "post to the room may set it, unless an operator locked it (`zmqchat lock`). "
        "Reading it never creates the room (no_such_room, status 1).",
        """\
  zmqchat topic general
  zmqchat topic general Release day: no merges after 3pm
  zmqchat topic --clear general
  zmqchat topic --json general | jq -r .text
""",
    )
    p.add_argument("--clear", action="store_true", help="clear the topic")
    p.add_argument("text", nargs="*", metavar="TEXT", help="the new topic (words joined)")
    p.set_defaults(func=_run)


def _add_action(sub: Subparsers, name: str) -> None:
    help, description, examples = ACTIONS[name]
    p = _parser(sub, name, help, f"{description} {OPERATOR.format(name=name)}", examples)
    if name in ("lock", "unlock"):
        p.set_defaults(func=_run, target=None, reason=[], duration=None)
        return
    p.add_argument("target", metavar="USER", help="who, e.g. bob")
    if name == "ban":
        p.add_argument(
            "--for",
            dest="duration",
            type=_duration,
            metavar="DURATION",
            help="how long: 90s, 10m, 2h, 1d, 1w (default: until unbanned)",
        )
    if name in ("kick", "ban"):
        p.add_argument("reason", nargs="*", metavar="REASON", help="why (words joined)")
    p.set_defaults(func=_run)


def _duration(value: str) -> float:
    seconds = parse_duration(value)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"not a duration: {value!r} (e.g. 90s, 10m, 2h, 1d)")
    return seconds


def _run(args: argparse.Namespace) -> int:
    from zmqchat.client.chat.failures import ExitCode, ScriptError
    from zmqchat.client.console import moderation as scripting
    from zmqchat.client.console.oneshot import run

    def body() -> int:
        config, user = client_config(args), args.user
        if args.command == "topic":
            if args.clear and args.text:
                raise ScriptError(ExitCode.USAGE, "give TEXT or --clear, not both")
            text = "" if args.clear else (" ".join(args.text) or None)
            return scripting.topic(config, room=args.room, text=text, as_json=args.json, user=user)
        return scripting.moderate(
            config,
            action=args.command,
            room=args.room,
            target=args.target,
            duration=getattr(args, "duration", None),
            reason=" ".join(getattr(args, "reason", [])) or None,
            as_json=args.json,
            user=user,
        )

    return run(args.command, body)


__all__ = ["add_moderation_commands"]
