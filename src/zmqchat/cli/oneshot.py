"""The one-line commands for scripts: send, tail, pm, who, rooms, history.

Each is a thin layer over :mod:`zmqchat.client.console.oneshot`, which holds their
logic and their exit status scheme; its ``run`` turns every error into one stderr
line. That module loads the client library, so only a runner imports it.
"""

from __future__ import annotations

import argparse

from zmqchat.cli.options import (
    CommandParser,
    Subparsers,
    client_config,
    positive_int,
    script_command,
    seconds,
    seq,
)


def add_oneshot_commands(sub: Subparsers) -> None:
    """``send``, ``tail``, ``pm``, ``who``, ``rooms`` and ``history``, in this order."""
    for add in (_add_send, _add_tail, _add_pm, _add_who, _add_rooms, _add_history):
        add(sub)


def _script_parser(
    sub: Subparsers,
    name: str,
    *,
    help: str,
    description: str,
    examples: str,
    tail: bool = False,
) -> CommandParser:
    p = script_command(sub, name, help=help, description=description, examples=examples, tail=tail)
    p.add_argument(
        "--user",
        help=f"name to register as (default {name}-HOST-PID, unique per process, so "
        "many can run at once; the `user` of client.toml is for `chat` only)",
    )
    return p


def _add_send(sub: Subparsers) -> None:
    p = _script_parser(
        sub,
        "send",
        help="say something in a room (from the arguments, or one message per stdin line)",
        description="Send TEXT to a room, or with `-` (or no TEXT and a pipe on stdin) one "
        "message per line of stdin, blank lines skipped; with --whole, all of stdin as one "
        "message, its lines kept. Returns once every message is "
        "acknowledged: stored by the broker, never to be lost. A refused message does not "
        "stop the others; the first one refused is named on stderr and the exit status is 1. "
        "It posts without joining the room, so the room shows the messages and no join or "
        "leave around them (a private room still needs an invitation).",
        examples="""\
  zmqchat send hello from a script              to the default room (general)
  zmqchat send --room general hello from a script
  zmqchat send --room ci --data '{"build": 42, "ok": true}' build 42 passed
  printf 'one\\ntwo\\n' | zmqchat send --room general -      two messages
  git log -3 --format=%s | zmqchat send --whole -    one message of three lines
  while sleep 60; do uptime; done | zmqchat send --room ops --user uptime-bot
  zmqchat send --host 10.0.0.5 --port 5555 --connect-timeout 2 --room ops ping
""",
    )
    p.add_argument(
        "--room",
        help="room to send to, e.g. --room ops (default: the first of `rooms` in "
        "client.toml or ZMQCHAT_ROOMS, general)",
    )
    p.add_argument(
        "--data",
        metavar="JSON",
        help="a JSON object sent with every message for bots to read, e.g. '{\"ok\": true}'",
    )
    p.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="the message (words are joined by spaces); `-` reads stdin instead",
    )
    p.add_argument(
        "--whole",
        action="store_true",
        help="send all of stdin as ONE message with its line breaks (the last ones "
        "dropped), as mosquitto_pub -s does; over 4096 UTF-8 bytes it is refused "
        "(status 1), never cut",
    )
    p.set_defaults(func=_run)


def _add_tail(sub: Subparsers) -> None:
    p = _script_parser(
        sub,
        "tail",
        help="print room events as they arrive, as text or JSON lines",
        description="Join rooms and print each event (messages, joins and leaves, private "
        "messages to this user, broker notices) on one line as it arrives, flushed at once, "
        "so it can feed grep, jq or head. --last and --since first print messages from "
        "history (joins and leaves too with --presence). A line where the day changes "
        "separates days (not with --json). Connection changes are reported "
        "on stderr; it reconnects by itself. Events counted by --count include those "
        "printed from history.",
        examples="""\
  zmqchat tail                                   everything said in general
  zmqchat tail --room dev --room ops --json | jq -r 'select(.type == "chat") | .text'
  zmqchat tail --room ci --json --no-presence --count 1 --timeout 600
                                                 wait for the next message
  zmqchat tail --room general --last 20          the last 20 messages, then live
  zmqchat tail --room general --since 1200 --presence
                                                 every event after seq 1200, then live
  zmqchat tail --room general --room dev --mentions alice --json
                                                 only what names alice (or is a pm to her)
""",
        tail=True,
    )
    p.add_argument(
        "--room",
        action="append",
        default=[],
        metavar="R",
        help="room to follow; repeat for several (default: `rooms` of client.toml, general)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line with every field of the event "
        '(e.g. {"type":"chat","room":"general","seq":7,"from":"alice","text":"hi","ts":...})',
    )
    p.add_argument(
        "--count",
        type=positive_int,
        metavar="N",
        help="exit (status 0) after N events, e.g. --count 1 to wait for the next one",
    )
    backlog = p.add_mutually_exclusive_group()
    backlog.add_argument(
        "--since",
        type=seq,
        metavar="SEQ",
        help="first print the messages after seq SEQ from history (per room), e.g. --since 0",
    )
    backlog.add_argument(
        "--last",
        type=positive_int,
        metavar="N",
        help="first print the last N messages of each room from history, e.g. --last 20",
    )
    p.add_argument(
        "--presence",
        action=argparse.BooleanOptionalAction,
        help="joins and leaves: by default printed live but skipped in the history of "
        "--last/--since (each `tail` and `chat` leaves a join and a leave there); "
        "--presence prints and counts them from history too; --no-presence never "
        "prints them, so --count 1 waits for a message, not for someone coming or going",
    )
    p.add_argument(
        "--timeout",
        type=seconds,
        metavar="S",
        help="stop after S seconds in all; with --count not reached, exit status 4",
    )
    p.add_argument(
        "--mentions",
        nargs="?",
        const="",
        metavar="NAME",
        help="print (and count) only chat lines that name NAME as a word (`@NAME` or "
        "NAME, any case, not inside another word) and private messages to NAME, from "
        "others; NAME defaults to --user, else the `user` of client.toml. Give NAME to "
        "watch a name that is online elsewhere without taking it",
    )
    p.set_defaults(func=_run)


def _add_pm(sub: Subparsers) -> None:
    p = _script_parser(
        sub,
        "pm",
        help="send a private message to an online user",
        description="Send TEXT privately to USER, who must be online; returns once the "
        "broker delivered it. Fails with no_such_user or user_offline otherwise.",
        examples="""\
  zmqchat pm alice the build is green
  zmqchat pm --user deploy-bot --data '{"version": "1.4.2"}' bob deployed 1.4.2
""",
    )
    p.add_argument("--data", metavar="JSON", help="a JSON object sent along, e.g. '{\"ok\": true}'")
    p.add_argument("to", metavar="USER", help="who gets it, e.g. alice")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the message (words joined by spaces)")
    p.set_defaults(func=_run)


def _add_who(sub: Subparsers) -> None:
    p = _script_parser(
        sub,
        "who",
        help="list the users online, or in a room",
        description="Print the users online (or in ROOM), one name per line; when there "
        "are none, a note on stderr says so (with --json, `[]`).",
        examples="""\
  zmqchat who
  zmqchat who --room dev
  zmqchat who --json | jq length
""",
    )
    p.add_argument("--room", metavar="R", help="only the members of room R, e.g. --room dev")
    p.add_argument("--json", action="store_true", help='a JSON array, e.g. ["alice","bob"]')
    p.set_defaults(func=_run)


def _add_rooms(sub: Subparsers) -> None:
    p = _script_parser(
        sub,
        "rooms",
        help="list the rooms: with members or history",
        description="Print each room that has members or history: its name, member count "
        "(0 for a room nobody is in now), last seq and topic; a private room only if you "
        "are in it "
        "(so never, for this command's own connection). When there are none, a note on "
        "stderr says so (with --json, `[]`).",
        examples="""\
  zmqchat rooms
  zmqchat rooms --json | jq -r '.[].name'
""",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='a JSON array, e.g. [{"name":"general","members":3,"seq":42,"topic":"hi"}] '
        "(topic only where there is one)",
    )
    p.set_defaults(func=_run)


def _add_history(sub: Subparsers) -> None:
    p = _script_parser(
        sub,
        "history",
        help="print the last messages of a room",
        description="Print the last messages of ROOM from the broker's store, oldest first, "
        "one per line, with a line where the day changes. It reads without joining, so "
        "it leaves no trace in the room. Joins and leaves are skipped unless --presence "
        "is given. A room that does not exist is an error (no_such_room, status 1), never "
        "created; one with nothing to show prints nothing and, unless --json, says so on "
        "stderr.",
        examples="""\
  zmqchat history general
  zmqchat history ci --limit 200 --json | jq -r 'select(.data.ok == false) | .text'
  zmqchat history general --presence --limit 10   who came and went, among the messages
""",
    )
    p.add_argument("room", metavar="ROOM", help="the room, e.g. general")
    p.add_argument(
        "--limit",
        type=positive_int,
        default=50,
        metavar="N",
        help="how many messages (or events, with --presence) (default 50)",
    )
    p.add_argument(
        "--presence",
        action="store_true",
        help="print and count joins and leaves too, e.g. --presence --limit 10",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line, as `tail --json`")
    p.set_defaults(func=_run)


def mention_name(given: str | None, user: str | None, configured: str | None) -> str | None:
    """The name ``tail --mentions`` watches: the one given, else ``--user``, else the
    configured ``user``; None without ``--mentions``."""
    from zmqchat.client.chat.failures import ExitCode, ScriptError
    from zmqchat.common.protocol import is_valid_name

    if given is None:
        return None
    name = given or user or configured
    if not name:
        raise ScriptError(ExitCode.USAGE, "--mentions needs a name: --mentions NAME, or --user")
    if not is_valid_name(name):
        raise ScriptError(
            ExitCode.USAGE, f"--mentions {name!r}: use 1-32 letters, digits, '_' or '-'"
        )
    return name


def _run(args: argparse.Namespace) -> int:
    """Run the command named by ``args.command``; every error is one line on stderr."""
    from zmqchat.client.console import oneshot as scripting

    def body() -> int:
        config, user = client_config(args), args.user
        match args.command:
            case "send":
                return scripting.send(
                    config,
                    room=args.room,
                    texts=args.text,
                    data=args.data,
                    user=user,
                    whole=args.whole,
                )
            case "tail":
                return scripting.tail(
                    config,
                    rooms=args.room,
                    user=user,
                    as_json=args.json,
                    count=args.count,
                    since=args.since,
                    last=args.last,
                    timeout=args.timeout,
                    presence=args.presence,
                    mentions=mention_name(args.mentions, user, config.user),
                )
            case "pm":
                return scripting.pm(config, to=args.to, texts=args.text, data=args.data, user=user)
            case "who":
                return scripting.who(config, room=args.room, as_json=args.json, user=user)
            case "rooms":
                return scripting.rooms(config, as_json=args.json, user=user)
            case "history":
                return scripting.history(
                    config,
                    room=args.room,
                    limit=args.limit,
                    as_json=args.json,
                    presence=args.presence,
                    user=user,
                )
        raise AssertionError(f"no runner for {args.command!r}")

    return scripting.run(args.command, body)


__all__ = ["add_oneshot_commands", "mention_name"]
