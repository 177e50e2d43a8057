"""A bot that answers ``!ping`` with ``pong`` and says back what follows ``!echo``.

    python examples/ping_bot.py                          # the broker of `make run`
    python examples/ping_bot.py --room general --room dev --user pingbot

In a chat (``zmqchat chat``, or ``zmqchat send '!ping'``): ``!ping`` -> ``pong``,
``!echo hello`` -> ``hello``, ``!help`` lists the commands. They work in a private
message too (``/msg pingbot !ping`` in ``zmqchat chat``), answered privately.
Ctrl-C or SIGTERM stops it cleanly: it says bye, so its name is free at once.
"""

from __future__ import annotations

import argparse
import os

from zmqchat.bot import Bot, Context


def make_bot(endpoint: str, user: str, rooms: list[str]) -> Bot:
    bot = Bot(user, endpoint, rooms=rooms)

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        """answer pong"""
        await ctx.reply("pong")

    @bot.command("echo")
    async def echo(ctx: Context) -> None:
        """say TEXT back"""
        await ctx.reply(ctx.rest or "usage: !echo TEXT")

    return bot


def main() -> None:
    parser = argparse.ArgumentParser(
        description="A zmqchat bot answering !ping with pong and !echo TEXT with TEXT.",
        epilog="The broker defaults come from ZMQCHAT_HOST / ZMQCHAT_PORT, if set.",
    )
    parser.add_argument("--host", default=os.environ.get("ZMQCHAT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ZMQCHAT_PORT", "5555")))
    parser.add_argument("--user", default="pingbot", help="the bot's name (default pingbot)")
    parser.add_argument(
        "--room", action="append", help="a room to answer in (repeatable; default general)"
    )
    args = parser.parse_args()
    bot = make_bot(f"tcp://{args.host}:{args.port}", args.user, args.room or ["general"])
    bot.run()  # until Ctrl-C / SIGTERM


if __name__ == "__main__":
    main()
