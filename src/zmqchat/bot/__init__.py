"""``zmqchat.bot``: a small toolkit for chat bots, on :class:`zmqchat.aio.AsyncClient`.

::

    from zmqchat.bot import Bot, Context

    bot = Bot("pingbot", rooms=["general"])

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        "answer pong"
        await ctx.reply("pong")

    bot.run()

The rules (``docs/bots.md`` explains them with examples):

* Handlers are ``async def handler(ctx)``. Each call runs as a task of its own, at
  most ``concurrency`` at once, started in the order the events arrived; a slow
  handler does not hold up the others. ``concurrency=1`` handles one event at a time,
  strictly in order. Periodic jobs run beside handlers, never overlapping themselves.
* An exception in a handler or job is logged with its traceback on the
  ``zmqchat.bot`` logger, then handed to the ``on_error`` hook if there is one, and
  the bot carries on.
* The bot never handles its own messages or its own joins and leaves.
* Only what happens after the bot joined a room is handled: an event whose seq is at
  or below the room's head when the bot joined (from ``welcome`` or ``joined``) is
  history and is skipped. The client delivers every later event once, in order, also
  across reconnections, so a command said while the broker was restarting is answered
  once when the bot is back.

The parts: :mod:`~zmqchat.bot.router` decides which handler calls an event makes (no
sockets, no tasks), :mod:`~zmqchat.bot.supervisor` runs those calls and the jobs as
tasks, and :mod:`~zmqchat.bot.runner`'s ``Bot`` ties them to a client and a process.
:mod:`~zmqchat.bot.context` holds ``Context``, what a handler is called with.
"""

from __future__ import annotations

from zmqchat.bot.context import Context
from zmqchat.bot.router import Router
from zmqchat.bot.runner import Bot

__all__ = ["Bot", "Context", "Router"]
