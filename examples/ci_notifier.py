"""Post a CI result into a room, with a machine-readable ``data`` map, and exit once
the broker has stored it.

    python examples/ci_notifier.py --build 42 --url https://ci.example.com/42
    python examples/ci_notifier.py --build 43 --failed --branch main
    echo '{"build": 44, "ok": true, "duration": 81.5}' | python examples/ci_notifier.py -

The room (``ci`` by default) gets ``build 42 passed https://ci.example.com/42`` with
``data = {"kind": "ci", "build": 42, "ok": true, "url": "https://..."}``. With ``-``
the result is one JSON object on stdin (``build`` and ``ok`` required, other keys
kept). Programs read it with ``zmqchat tail --room ci --json``, e.g.::

    zmqchat tail --room ci --json | jq -c 'select(.data.kind == "ci") | .data'

Exit status: 0 posted, 1 refused by the broker (e.g. the name is taken), 2 usage
error, 3 no broker answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from zmqchat import BrokerError, Timeout
from zmqchat.bot import Bot


def result_from_stdin() -> dict[str, Any]:
    """The result as one JSON object on stdin; ValueError says what is wrong."""
    try:
        result = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        raise ValueError(f"stdin is not JSON: {exc}") from None
    if not isinstance(result, dict):
        raise ValueError("stdin must hold one JSON object")
    if not isinstance(result.get("build"), int) or not isinstance(result.get("ok"), bool):
        raise ValueError('the JSON needs "build" (a number) and "ok" (true or false)')
    return result


def describe(result: dict[str, Any]) -> str:
    """The human line; the same facts are in ``data`` for programs."""
    words = [f"build {result['build']}", "passed" if result["ok"] else "FAILED"]
    if result.get("branch"):
        words.append(f"on {result['branch']}")
    if result.get("url"):
        words.append(str(result["url"]))
    return " ".join(words)


async def post(endpoint: str, user: str, room: str, result: dict[str, Any]) -> int:
    data = {"kind": "ci", **result}
    # A bot without handlers: start (register, join), send, stop (bye).
    async with Bot(user, endpoint, rooms=[room]) as bot:
        ack = await bot.send(room, describe(result), data=data)
    print(f"posted to #{ack.room} as seq {ack.seq}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Post a CI result (with a machine-readable data map) into a zmqchat room.",
        epilog="The broker defaults come from ZMQCHAT_HOST / ZMQCHAT_PORT, if set.",
    )
    parser.add_argument("--host", default=os.environ.get("ZMQCHAT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ZMQCHAT_PORT", "5555")))
    parser.add_argument("--user", default="ci-bot", help="who posts it (default ci-bot)")
    parser.add_argument("--room", default="ci", help="where to post it (default ci)")
    parser.add_argument("--build", type=int, help="the build number")
    parser.add_argument("--failed", action="store_true", help="the build failed")
    parser.add_argument("--url", help="a link to the build")
    parser.add_argument("--branch", help="the branch built")
    parser.add_argument(
        "stdin", nargs="?", choices=["-"], help="read the result as a JSON object from stdin"
    )
    args = parser.parse_args()
    if args.stdin == "-":
        try:
            result = result_from_stdin()
        except ValueError as exc:
            parser.error(str(exc))  # exits with status 2
    elif args.build is None:
        parser.error("give --build N, or - to read the result from stdin")
    else:
        result = {"build": args.build, "ok": not args.failed}
        result |= {k: v for k, v in (("url", args.url), ("branch", args.branch)) if v}
    endpoint = f"tcp://{args.host}:{args.port}"
    try:
        return asyncio.run(post(endpoint, args.user, args.room, result))
    except BrokerError as exc:
        print(f"ci_notifier: the broker refused: {exc}", file=sys.stderr)
        return 1
    except Timeout as exc:
        print(f"ci_notifier: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
