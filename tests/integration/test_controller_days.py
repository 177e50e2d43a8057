"""The shared chat model tells days apart: a room's past, its live lines and the
older pages a GUI loads show a line naming the day wherever the day changes, in
each conversation (GUI) or in the console's one stream. Against a real broker whose
store holds lines of earlier days."""

from __future__ import annotations

import re
import threading
import time

import pytest

from zmqchat import Client
from zmqchat.broker.store import Store
from zmqchat.client.chat.controller import ChatController
from zmqchat.client.chat.formatting import Line, plain
from zmqchat.client.chat.state import ChatState
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)

MONDAY = time.mktime((2024, 5, 13, 9, 30, 0, 0, 0, -1))
TUESDAY = time.mktime((2024, 5, 14, 17, 5, 0, 0, 0, -1))


def seed(broker: BrokerProcess, room: str, days: list[tuple[float, int]]) -> None:
    """Store ``count`` messages at each ``ts`` of ``days`` in ``room``, with the
    broker stopped (it stamps whatever it is sent with the present)."""
    broker.stop()
    store = Store(broker.db)
    seq = 0
    for ts, count in days:
        for n in range(count):
            seq += 1
            text = f"{time.strftime('%a', time.localtime(ts))}{n}"  # Mon0, Mon1, ...
            store.add_chat(room, seq, ts + n, "alice", text, None, 1, None)
    store.commit()
    store.close()
    broker.start()


class Shown:
    """What a controller emitted, by conversation."""

    def __init__(self) -> None:
        self.lines: list[tuple[str | None, str]] = []
        self._lock = threading.Lock()

    def emit(self, line: Line, where: str | None) -> None:
        with self._lock:
            self.lines.append((where, plain(line)))

    def texts(self, where: str | None = None) -> list[str]:
        with self._lock:
            return [text for key, text in self.lines if where is None or key == where]


DAY = re.compile(r"─── \w+ \d{4}-\d\d-\d\d ───")


def shorten(texts: list[str]) -> list[str]:
    """Lines without their time: the message, or a banner as it is."""
    return [t if t.startswith("───") else t.rsplit(" ", 1)[-1] for t in texts]


def said(texts: list[str]) -> list[str]:
    """The messages and day separators among ``texts``."""
    return [t for t in texts if "<" in t or DAY.fullmatch(t)]


@pytest.mark.parametrize("compact", [True, False], ids=["gui", "console"])
def test_joining_a_room_shows_its_days_apart_and_today_after_them(broker, compact):
    seed(broker, "general", [(MONDAY, 2), (TUESDAY, 1)])
    shown = Shown()
    controller = ChatController(ChatState(), shown.emit, compact=compact)
    controller.prepare("bob", ["general"])
    bob = Client("bob", broker.endpoint, on_event=controller.on_event)
    try:
        controller.attach(bob, bob.connect())
        wait_until(lambda: any("you are in #general" in t for t in shown.texts()))
        bob.send("general", "now")
        wait_until(lambda: any(t.endswith("<bob> now") for t in shown.texts()))
        controller.quitting()
    finally:
        bob.close()
    lines = said(shown.texts("#general"))
    assert shorten(lines) == [
        "Mon0",
        "Mon1",
        "─── Tuesday 2024-05-14 ───",
        "Tue0",
        # today, after the history: bob's line
        f"─── {time.strftime('%A %Y-%m-%d')} ───",
        "now",
    ]
    assert lines[0].startswith("2024-05-13 09:30:00 ")  # an older line has its date


def test_older_pages_are_marked_where_the_day_changes(broker):
    seed(broker, "general", [(MONDAY, 3), (TUESDAY, 2)])
    shown = Shown()
    controller = ChatController(ChatState(), shown.emit, backlog=2, compact=True)
    controller.prepare("bob", ["general"])
    bob = Client("bob", broker.endpoint, on_event=controller.on_event)
    try:
        controller.attach(bob, bob.connect())
        wait_until(lambda: any("you are in #general" in t for t in shown.texts()))
        assert shorten([t for t in shown.texts("#general") if "<" in t]) == ["Tue0", "Tue1"]
        page = controller.load_older("#general", 2)
        assert shorten([plain(line) for line in page.lines]) == [
            "Mon1",
            "Mon2",
            "─── Tuesday 2024-05-14 ───",  # between the page and what was shown
        ]
        page = controller.load_older("#general", 2)
        assert shorten([plain(line) for line in page.lines]) == [
            "─── #general: the beginning ───",
            "Mon0",
        ]
        controller.quitting()
    finally:
        bob.close()
