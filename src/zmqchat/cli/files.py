"""``zmqchat file send`` and ``zmqchat file get`` (docs/protocol.md §2.16); only the
runner imports the client (:mod:`zmqchat.client.console.files`)."""

from __future__ import annotations

import argparse

from zmqchat.cli.options import CommandParser, Subparsers, client_config, script_command

_USER = (
    "name to register as (default file-HOST-PID, unique per process). Give the same "
    "name to go on with an upload a killed `file send` left half done"
)


def add_file_commands(sub: Subparsers) -> None:
    """``file``, with ``send`` and ``get`` under it."""
    p = sub.add_parser(
        "file",
        help="send a file to a room or a user, or fetch one",
        description="Files go through the broker, which checks each one's sha256 before "
        "anyone sees it; the same content is stored once. See `zmqchat file send --help` "
        "and `zmqchat file get --help`.",
    )
    actions = p.add_subparsers(
        dest="file_command", metavar="ACTION", parser_class=CommandParser, required=True
    )
    _add_send(actions)
    _add_get(actions)


def _parser(
    sub: Subparsers, name: str, help: str, description: str, examples: str
) -> CommandParser:
    p = script_command(sub, name, help=help, description=description, examples=examples)
    p.add_argument("--user", help=_USER)
    p.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    return p


def _add_send(sub: Subparsers) -> None:
    p = _parser(
        sub,
        "send",
        "send files to a room (its members see a file event) or to a user",
        "Send each PATH to room R (you must be a member: --user of a session in it, or "
        "a room anyone may join) or to USER. Each is refused before a byte is sent if it "
        "is too large (too_large), past your quota (quota_exceeded) or the broker's disk "
        "is short of room (disk_full). On a terminal a bar shows size, rate and ETA on "
        "stderr; stdout gets one line per file with the id `zmqchat file get` takes. A "
        "refused file does not stop the others; the exit status is then 1.",
        """\
  zmqchat file send --room general report.pdf
  zmqchat file send --to bob photo1.jpg photo2.jpg
  zmqchat file send --json --room ci build.log | jq .id
""",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--room", metavar="R", help="the room, e.g. general")
    target.add_argument("--to", metavar="USER", help="the user, e.g. bob")
    p.add_argument("paths", nargs="+", metavar="PATH", help="the files")
    p.set_defaults(func=_run)


def _add_get(sub: Subparsers) -> None:
    p = _parser(
        sub,
        "get",
        "fetch a file by its id",
        "Fetch file ID to PATH, or into the current folder under "
        "the name it was sent with. The bytes are checked against the file's sha256 "
        "before the file appears; a fetch that fails keeps a part file and goes on from "
        "there the next time. Prints where it was saved. A room's file is for the "
        "room's members: the command's session is in the rooms of --room (default: "
        "the configured rooms, general); a private file is for its sender and its "
        "recipient (--user, while that user is not connected elsewhere).",
        """\
  zmqchat file get 42
  zmqchat file get --room dev 42 -o ~/Downloads/
  zmqchat file get --user alice 43 -o notes.txt
""",
    )
    p.add_argument(
        "--room", action="append", metavar="R", help="be in room R while fetching (repeatable)"
    )
    p.add_argument("id", type=int, metavar="ID", help="the file's id, e.g. 42")
    p.add_argument("-o", "--output", metavar="PATH", help="file or folder to save it to")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from zmqchat.client.console import files
    from zmqchat.client.console.oneshot import run

    def body() -> int:
        config = client_config(args)
        if args.file_command == "send":
            room = None if args.room is None else args.room.lower()
            return files.send(config, paths=args.paths, room=room, to=args.to,
                              as_json=args.json, user=args.user)  # fmt: skip
        rooms = [r.lower() for r in args.room or ()]
        return files.get(config, file_id=args.id, output=args.output, rooms=rooms,
                         as_json=args.json, user=args.user)  # fmt: skip

    return run("file", body)


__all__ = ["add_file_commands"]
