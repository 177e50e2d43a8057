"""What a bot may do to a room it operates (it created it, or an operator made it
one): set the topic, kick, ban, make operators, lock the topic. Each is the
request of :class:`~zmqchat.aio.AsyncClient` of the same name, on the bot's client,
and raises what that raises (``not_operator`` for a bot that is no operator).
:class:`~zmqchat.bot.runner.Bot` has them all."""

from __future__ import annotations

from zmqchat.aio import AsyncClient
from zmqchat.common.moderation import Moderated, TopicInfo

__all__ = ["Moderating"]


class Moderating:
    """The moderation methods of :class:`~zmqchat.bot.runner.Bot`."""

    @property
    def client(self) -> AsyncClient:
        raise NotImplementedError  # the Bot's

    async def topic(self, room: str, text: str | None = None) -> TopicInfo:
        """``room``'s topic, or set it to ``text`` ("" clears it)."""
        return await self.client.topic(room, text)

    async def kick(self, room: str, user: str, reason: str | None = None) -> Moderated:
        """Remove ``user`` from ``room``; they may join again."""
        return await self.client.kick(room, user, reason)

    async def ban(
        self, room: str, user: str, duration: float | None = None, reason: str | None = None
    ) -> Moderated:
        """Keep ``user`` out of ``room`` for ``duration`` seconds (None: until unbanned)."""
        return await self.client.ban(room, user, duration, reason)

    async def unban(self, room: str, user: str) -> Moderated:
        return await self.client.unban(room, user)

    async def op(self, room: str, user: str) -> Moderated:
        """Make ``user`` an operator of ``room``."""
        return await self.client.op(room, user)

    async def deop(self, room: str, user: str) -> Moderated:
        return await self.client.deop(room, user)

    async def lock(self, room: str) -> Moderated:
        """Only operators may set ``room``'s topic from now on."""
        return await self.client.lock(room)

    async def unlock(self, room: str) -> Moderated:
        return await self.client.unlock(room)
