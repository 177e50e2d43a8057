"""The bystander: one user from an address of its own who chats in its room every
20 ms and times each chat until its own event comes back on its subscription. At the
end it looks for every acked chat it never saw in the room's history: what is in
neither is lost. It runs in a process of its own (``zmqchat.testing.spawn``)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import zmq

from attack.wire import BYSTANDER_HOST, dealer, endpoint, pack, register, request, unpack

ROOM = "lobby"
NAME = "bystander"
SETTLE = 3.0  # seconds to wait at the end for answers and events still on their way


@dataclasses.dataclass(frozen=True)
class Sample:
    sent: float  # wall-clock time the chat was sent
    rtt: float | None  # seconds until its event arrived; None: it never did
    acked: bool
    refused: str | None  # the error code, if the broker refused it


@dataclasses.dataclass(frozen=True)
class Outcome:
    samples: list[Sample]
    lost: int  # acked, but neither published to it nor in the history
    history_read: bool
    error: str | None = None


class _Chatter:
    def __init__(self, context: zmq.Context[Any], port: int) -> None:
        self.sock = dealer(context, BYSTANDER_HOST, port)
        welcome = register(self.sock, NAME, [ROOM], timeout=10.0)
        if not welcome or welcome.get("type") != "welcome":
            raise RuntimeError(f"the bystander could not register: {welcome}")
        self.sub = context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, ROOM.encode() + b"\x00")
        self.sub.connect(endpoint(BYSTANDER_HOST, int(welcome["pub_port"])))
        self.n = 0
        self.sent: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.acked: dict[int, int] = {}  # n -> seq
        self.refused: dict[int, str] = {}

    def chat(self) -> None:
        self.n += 1
        self.sent[self.n] = time.time()
        msg = {"type": "chat", "room": ROOM, "text": f"b{self.n}", "ref": self.n}
        self.sock.send(pack(msg))

    def pump(self, timeout: float) -> None:
        """Read what came in within ``timeout`` seconds, replies and events alike."""
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready = dict(poller.poll(int(left * 1000) + 1))
            if not ready:
                return
            now = time.time()
            while self.sub.poll(0):
                _topic, body = self.sub.recv_multipart()
                event = unpack(body)
                text = str(event.get("text", ""))
                if event.get("from") == NAME and text.startswith("b") and text[1:].isdigit():
                    self.seen.setdefault(int(text[1:]), now)
            while self.sock.poll(0):
                reply = unpack(self.sock.recv())
                ref = reply.get("ref")
                if not isinstance(ref, int) or ref not in self.sent:
                    continue
                if reply.get("type") == "ack":
                    self.acked[ref] = int(reply["seq"])
                elif reply.get("type") == "error":
                    self.refused[ref] = str(reply.get("code"))

    def settled(self) -> bool:
        return all(n in self.refused or (n in self.acked and n in self.seen) for n in self.sent)

    def in_history(self, wanted: set[int]) -> set[int] | None:
        """Which of the ``wanted`` chats the room's history holds; None if unreadable."""
        found: set[int] = set()
        after = min(self.acked[n] for n in wanted) - 1
        top = max(self.acked[n] for n in wanted)
        while after < top:
            page = request(self.sock, {"type": "history", "room": ROOM, "after": after,
                                       "limit": 500}, timeout=10.0)  # fmt: skip
            if not page or page.get("type") != "history" or not page.get("messages"):
                return None if page is None or page.get("type") != "history" else found
            for event in page["messages"]:
                text = str(event.get("text", ""))
                if event.get("from") == NAME and text[1:].isdigit():
                    found.add(int(text[1:]))
                after = max(after, int(event.get("seq", after)))
            if not page.get("more"):
                break
        return found & wanted

    def outcome(self) -> Outcome:
        missing = {n for n in self.acked if n not in self.seen}
        found = self.in_history(missing) if missing else set()
        samples = [
            Sample(
                sent=self.sent[n],
                rtt=self.seen[n] - self.sent[n] if n in self.seen else None,
                acked=n in self.acked,
                refused=self.refused.get(n),
            )
            for n in sorted(self.sent)
        ]
        lost = len(missing - (found or set()))
        return Outcome(samples, lost, history_read=found is not None)


def run_bystander(port: int, period: float, reports: Any, stop: Any) -> None:
    """Chat every ``period`` seconds until ``stop`` is set; put ``("ready", t)`` when
    the subscription works, then ``("done", Outcome)`` on ``reports``."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        chatter = _Chatter(context, port)
        deadline = time.monotonic() + 15
        while not chatter.seen and time.monotonic() < deadline:  # the slow joiner
            chatter.chat()
            chatter.pump(0.1)
        if not chatter.seen:
            raise RuntimeError("the bystander never saw its own chat")
        chatter.sent.clear()
        chatter.seen.clear()
        chatter.acked.clear()
        reports.put(("ready", time.time()))
        next_at = time.monotonic()
        while not stop.is_set():
            chatter.chat()
            next_at += period
            chatter.pump(max(0.0, next_at - time.monotonic()))
        deadline = time.monotonic() + SETTLE
        while not chatter.settled() and time.monotonic() < deadline:
            chatter.pump(0.1)
        outcome = chatter.outcome()
        chatter.sock.send(pack({"type": "bye"}))
        reports.put(("done", outcome))
    except Exception as exc:  # the driver reports it as this row's failure
        reports.put(("done", Outcome([], 0, history_read=False, error=repr(exc))))
    finally:
        context.destroy(linger=0)
