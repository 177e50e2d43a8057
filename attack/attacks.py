"""The attacks of issue 14's table, one function each. Each runs in a process of its
own from the attacker's address, puts ``("armed", t)`` on ``reports`` once its set-up
is done and the attack proper starts, attacks until ``stop`` is set, then puts
``("note", text)``: what it managed (for the report's last column)."""

from __future__ import annotations

import errno
import os
import resource
import socket
import time
from collections.abc import Callable
from typing import Any

import zmq

from attack.plan import Plan
from attack.wire import (
    ATTACKER_HOST,
    BROKER_HOST,
    dealer,
    endpoint,
    fresh_name,
    pack,
    register,
    request,
    unpack,
)

LOAD_HOST = "127.0.0.5"  # the busy room's own chatters: not the attacker
BIG_TEXT = "x" * 4000
BIG_DATA = {"blob": b"y" * 12_000}  # with the text: ~16 KiB events, the largest allowed

Attack = Callable[[int, int, Plan, Any, Any], None]
# The share of the broker's address_rate_limit that the attacks which wait for their
# answers send at (docs/attack.md).
PACE = 0.9


def niced(attack: Attack, port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Run ``attack`` at niceness ``plan.attacker_nice``: an attacker on a host of its
    own takes none of the broker's or the bystander's CPU (docs/attack.md)."""
    if plan.attacker_nice:
        os.nice(plan.attacker_nice)
    attack(port, pub_port, plan, reports, stop)


def _armed(reports: Any) -> None:
    reports.put(("armed", time.time()))


def _registered(
    context: zmq.Context[Any], port: int, host: str, room: str, **options: int
) -> tuple[zmq.Socket[Any], dict[str, Any]]:
    """A DEALER registered in ``room``, and its welcome."""
    sock = dealer(context, host, port, **options)
    welcome = register(sock, fresh_name("atk"), [room], timeout=10.0)
    if not welcome or welcome.get("type") != "welcome":
        raise RuntimeError(f"an attacker could not register: {welcome}")
    return sock, welcome


def _joined(
    context: zmq.Context[Any], port: int, host: str, room: str, **options: int
) -> zmq.Socket[Any]:
    return _registered(context, port, host, room, **options)[0]


class Pacer:
    """Keeps an attacker within ``PACE`` of the broker's ``address_rate_limit`` (from
    a welcome; no limit: no pace). Past the limit the broker drops most requests
    unread, so an attacker that waits for its answers would stall, and measure the
    limit rather than what its requests cost."""

    def __init__(self, welcome: dict[str, Any]) -> None:
        limits = welcome.get("limits", {})
        self.rate = PACE * float(limits.get("address_rate_limit") or 0)
        self._started = time.monotonic()
        self._spent = 0.0

    def spend(self, cost: float = 1.0) -> None:
        """Count a request (a page of ``n`` bytes costs ``1 + n // 4096``)."""
        self._spent += cost

    def ready(self) -> bool:
        """Whether another request fits the pace now."""
        return not self.rate or self._spent < self.rate * (time.monotonic() - self._started)

    def wait(self) -> None:
        """Sleep until another request fits the pace."""
        if self.rate:
            time.sleep(max(0.0, self._spent / self.rate - (time.monotonic() - self._started)))


def _chat_window(
    socks: list[zmq.Socket[Any]],
    rooms: list[str],
    stop: Any,
    window: int,
    text: str,
    data: dict[str, Any] | None = None,
    rate: float = 0,
) -> tuple[int, int]:
    """Chat on every socket, in its room, with up to ``window`` unanswered each, until ``stop``, at
    most ``rate`` a second each (0: as fast as answered); returns (acked, refused)."""
    outstanding = dict.fromkeys(range(len(socks)), 0)
    sent = dict.fromkeys(range(len(socks)), 0)
    started = time.monotonic()
    acked = refused = 0
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    extra = {"data": data} if data is not None else {}
    frames = [pack({"type": "chat", "room": room, "text": text, **extra}) for room in rooms]
    while not stop.is_set():
        for i, sock in enumerate(socks):
            allowed = rate * (time.monotonic() - started) if rate else float("inf")
            while outstanding[i] < window and sent[i] < allowed:
                sock.send(frames[i])
                outstanding[i] += 1
                sent[i] += 1
        for sock, _ in poller.poll(5 if rate else 100):
            i = socks.index(sock)
            while sock.poll(0):
                kind = unpack(sock.recv()).get("type")
                outstanding[i] -= 1
                acked += kind == "ack"
                refused += kind == "error"
    return acked, refused


def stuck_subscriber(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """SUBs that subscribe to a busy room each and never read, while the rooms get
    16 KiB chats. Each its own room: ZeroMQ shares one message among the subscribers it
    goes to, so stuck readers of one room would hold the same messages."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        stuck = []
        rooms = [f"busy{i}" for i in range(plan.stuck_subs)]
        for room in rooms:
            sub = context.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.RCVHWM, 1)  # so it stops reading its TCP stream at once
            sub.setsockopt(zmq.RCVBUF, 4096)
            sub.setsockopt(zmq.SUBSCRIBE, room.encode() + b"\x00")
            sub.connect(endpoint(ATTACKER_HOST, pub_port))
            stuck.append(sub)
        busy = [rooms[i % len(rooms)] for i in range(plan.flood_sessions)]
        chatters = [_joined(context, port, LOAD_HOST, room) for room in busy]
        _armed(reports)
        acked, refused = _chat_window(chatters, busy, stop, 50, BIG_TEXT, BIG_DATA, rate=190)
        seconds = plan.seconds or 1
        rate = acked / seconds
        note = f"{len(stuck)} stuck SUB, one per busy room; {rate:.0f} chats/s of 16 KiB"
        reports.put(("note", f"{note} ({refused} refused)"))
    finally:
        context.destroy(linger=0)


def deaf_dealer(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """A DEALER that asks for 500-event history pages and never reads the replies."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        writer = _joined(context, port, ATTACKER_HOST, "deaf")
        for _ in range(500):  # history worth asking for: 500 chats of 4 KB
            writer.send(pack({"type": "chat", "room": "deaf", "text": BIG_TEXT}))
        got = 0
        while got < 500 and writer.poll(10_000):
            writer.recv()
            got += 1
        # Its own queue and kernel buffer hold almost nothing: what piles up is the broker's.
        deaf = _joined(context, port, ATTACKER_HOST, "deaf", RCVHWM=1, RCVBUF=4096)
        _armed(reports)
        frame = pack({"type": "history", "room": "deaf", "limit": 500})
        sent = 0
        while not stop.is_set():
            try:
                deaf.send(frame, zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                time.sleep(0.01)
        reports.put(("note", f"{sent} history requests of ~2 MB replies, none read"))
    finally:
        context.destroy(linger=0)


def register_close(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Register, close the connection without ``bye``, repeat."""
    context: zmq.Context[Any] = zmq.Context()
    welcomed = busy = other = 0
    try:
        _armed(reports)
        while not stop.is_set():
            sock = dealer(context, ATTACKER_HOST, port)
            reply = register(sock, fresh_name("rc"), ["general"], timeout=1.0)
            sock.close(linger=0)
            kind = reply.get("code", reply.get("type")) if reply else "no answer"
            welcomed += kind == "welcome"
            busy += kind == "server_busy"
            other += kind not in ("welcome", "server_busy")
        reports.put(("note", f"{welcomed} registered and dropped, {busy} server_busy, "
                     f"{other} other/no answer"))  # fmt: skip
    finally:
        context.destroy(linger=0)


def idle_connections(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Plain TCP connections to the ROUTER port that never say a word."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # our end needs them too
    held: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(plan.idle_connections):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((ATTACKER_HOST, 0))
            sock.setblocking(False)  # a full backlog must not hold us up
            code = sock.connect_ex((BROKER_HOST, port))
            if code in (0, errno.EINPROGRESS):
                held.append(sock)
            else:
                refused += 1
                sock.close()
        _armed(reports)
        stop.wait()
        reports.put(("note", f"{len(held)} idle connections held ({refused} refused)"))
    finally:
        for sock in held:
            sock.close()


def many_rooms(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Join ``plan.rooms`` rooms, then ask for ``rooms`` in a loop."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        sock, welcome = _registered(context, port, ATTACKER_HOST, "general")
        pacer = Pacer(welcome)
        made = sent = answered = 0
        deadline = time.monotonic() + plan.setup_timeout
        while made < plan.rooms and time.monotonic() < deadline and not stop.is_set():
            # Up to 200 in flight; a join refused is made up for under another name.
            while made + sent - answered < plan.rooms and sent - answered < 200 and pacer.ready():
                sock.send(pack({"type": "join", "room": f"r{sent}"}))
                sent += 1
                pacer.spend()
            if sock.poll(5):
                answered += 1
                made += unpack(sock.recv()).get("type") == "joined"
        _armed(reports)
        asked = largest = 0
        while not stop.is_set():
            pacer.wait()
            reply = request(sock, {"type": "rooms"}, timeout=10.0)
            asked += 1
            size = len(pack(reply)) if reply is not None else 0
            pacer.spend(1 + size // 4096)
            largest = max(largest, size)
        reports.put(("note", f"{made} rooms; {asked} `rooms` asked, largest reply "
                     f"{largest / 1024:.0f} KiB"))  # fmt: skip
    finally:
        context.destroy(linger=0)


def one_address(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Many sessions from one address, each chatting as fast as it is let."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        n = plan.sessions_per_address
        socks = [_joined(context, port, ATTACKER_HOST, "flood") for _ in range(n)]
        _armed(reports)
        started = time.monotonic()
        acked, refused = _chat_window(socks, ["flood"] * n, stop, 20, "flood")
        rate = acked / max(time.monotonic() - started, 1e-3)
        reports.put(("note", f"{n} sessions: {rate:.0f} chats/s accepted from one address "
                     f"({refused} refused)"))  # fmt: skip
    finally:
        context.destroy(linger=0)


def room_churn(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Join a new room name and leave it, in a loop."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        sock, welcome = _registered(context, port, ATTACKER_HOST, "general")
        pacer = Pacer(welcome)
        _armed(reports)
        made = 0
        while not stop.is_set():
            for kind in ("join", "leave"):
                pacer.wait()
                request(sock, {"type": kind, "room": f"c{made}"}, timeout=10.0)
                pacer.spend()
            made += 1
        listed = request(sock, {"type": "rooms"}, timeout=30.0)
        kept = len(listed.get("rooms", [])) if listed else -1
        reports.put(("note", f"{made} rooms joined and left; `rooms` still lists {kept}"))
    finally:
        context.destroy(linger=0)
