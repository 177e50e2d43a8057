"""``zmqchat.aio``: the asyncio client's public import path.

The class lives in :mod:`zmqchat.client.io.aio`; this name is the one programs import.
"""

from zmqchat.client.io.aio import AsyncClient

__all__ = ["AsyncClient"]
