"""Forward every message of one room elsewhere: JSON lines into a log file, or
webhook-shaped JSON bodies to stdout or to a URL.

    python examples/room_bridge.py --room ci --out ci.jsonl      # a log of the room
    python examples/room_bridge.py --room ci --webhook           # bodies on stdout
    python examples/room_bridge.py --room ci --post https://hooks.example.com/T0/B0

A log line is the message as ``zmqchat tail --json`` prints it
(``{"type":"chat","room":"ci","seq":7,"from":"ci-bot","text":"...","data":{...},"ts":...}``).
A webhook body has the keys Slack- and Mattermost-style incoming webhooks read
(``text``, ``username``, ``channel``) plus the whole message under ``zmqchat``. With
``--post``, a body that cannot be delivered is logged and skipped: the bridge keeps
going. Messages are forwarded one at a time, in the room's order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import urllib.request
from typing import Any, TextIO

from zmqchat import ChatEvent
from zmqchat.bot import Bot, Context
from zmqchat.client.chat.formatting import event_json

log = logging.getLogger("room_bridge")


def webhook_body(event: ChatEvent) -> dict[str, Any]:
    return {
        "text": event.text,
        "username": event.sender,
        "channel": f"#{event.room}",
        "ts": event.ts,
        "zmqchat": json.loads(event_json(event)),
    }


def post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def make_bridge(
    endpoint: str,
    user: str,
    room: str,
    *,
    out: TextIO,
    webhook: bool = False,
    url: str | None = None,
) -> Bot:
    # concurrency=1: one message at a time, so the log keeps the room's order.
    bot = Bot(user, endpoint, rooms=[room], concurrency=1, help_command=False)

    @bot.on_message(room=room)
    async def forward(ctx: Context) -> None:
        assert isinstance(ctx.event, ChatEvent)
        if url is not None:
            try:
                # urllib blocks: in a thread, so the bot's loop stays free.
                await asyncio.to_thread(post_json, url, webhook_body(ctx.event))
            except OSError as exc:
                log.warning("could not post seq %d to %s: %s", ctx.event.seq, url, exc)
            return
        line = json.dumps(webhook_body(ctx.event)) if webhook else event_json(ctx.event)
        out.write(line + "\n")
        out.flush()  # a line at a time: `tail -f` and other readers see it at once

    return bot


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Forward one zmqchat room to a JSON-lines file, stdout or a webhook URL.",
        epilog="The broker defaults come from ZMQCHAT_HOST / ZMQCHAT_PORT, if set.",
    )
    parser.add_argument("--host", default=os.environ.get("ZMQCHAT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ZMQCHAT_PORT", "5555")))
    parser.add_argument("--user", default="bridge", help="the bridge's name (default bridge)")
    parser.add_argument("--room", default="general", help="the room to forward (default general)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", help="append JSON lines to this file (default: stdout)")
    where.add_argument("--post", metavar="URL", help="POST a webhook body per message to URL")
    parser.add_argument(
        "--webhook", action="store_true", help="write webhook bodies instead of messages"
    )
    args = parser.parse_args()
    endpoint = f"tcp://{args.host}:{args.port}"
    with contextlib.ExitStack() as files:
        out = files.enter_context(open(args.out, "a", encoding="utf-8")) if args.out else sys.stdout
        bridge = make_bridge(
            endpoint, args.user, args.room, out=out, webhook=args.webhook, url=args.post
        )
        bridge.run()  # until Ctrl-C / SIGTERM


if __name__ == "__main__":
    main()
