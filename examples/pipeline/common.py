"""What the pipeline's processes share: where the broker is, the room names, and
reading a room's whole history.

The broker comes from ZMQCHAT_HOST / ZMQCHAT_PORT (as for every zmqchat command),
so a test suite can point the processes at its own broker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from zmqchat import ChatEvent, Client

JOBS = "jobs"  # the producer posts one chat per job, with {"job": id, "n": number}
RESULTS = "results"  # workers post one chat per result, with {"job": id, "square": n*n}


def endpoint() -> str:
    host = os.environ.get("ZMQCHAT_HOST", "127.0.0.1")
    port = os.environ.get("ZMQCHAT_PORT", "5555")
    return f"tcp://{host}:{port}"


def chats_so_far(client: Client, room: str) -> Iterator[ChatEvent]:
    """Every chat stored in ``room``, oldest first (a page of 500 at a time)."""
    after = 0
    while True:
        page = client.history(room, after=after, limit=500)
        for message in page.messages:
            if isinstance(message, ChatEvent):
                yield message
        if not page.more:
            return
        after = page.messages[-1].seq  # type: ignore[union-attr]
