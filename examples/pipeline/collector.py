"""Gather the squares of COUNT jobs from the `results` room, once each, then tell
the producer by private message: ``python collector.py COUNT``."""

from __future__ import annotations

import sys

from common import RESULTS, chats_so_far, endpoint

from zmqchat import ChatEvent, Client


def main(count: int) -> int:
    squares: dict[int, int] = {}

    def collect(message: ChatEvent) -> None:
        if message.room == RESULTS and message.data:
            squares.setdefault(message.data["job"], message.data["square"])  # once per job

    with Client("collector", endpoint(), rooms=[RESULTS]) as me:
        # Results posted before we came are in the history; later ones arrive as
        # events (some may be in both: counting by job makes that harmless).
        for message in chats_so_far(me, RESULTS):
            collect(message)
        events = me.events()
        while len(squares) < count:
            event = next(events)
            if isinstance(event, ChatEvent):
                collect(event)
        wrong = sorted(job for job, square in squares.items() if square != job * job)
        summary = f"all {count} results in, {len(wrong)} wrong"
        print(summary, flush=True)
        me.pm("producer", summary)
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
