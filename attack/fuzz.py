"""The fuzz run: random and mutated frames on the ROUTER (bit flips, truncation, type
confusion, huge and deeply nested msgpack, extra frames, oversized frames), from
registered and unregistered connections, and garbage on the XPUB port."""

from __future__ import annotations

import contextlib
import random
import time
from typing import Any

import msgpack
import zmq

from attack.attacks import Pacer, _armed
from attack.plan import Plan
from attack.wire import ATTACKER_HOST, dealer, endpoint, fresh_name, pack, register


def fuzz_hosts(count: int) -> list[str]:
    """The fuzzers' source addresses: the attacker's, then more on 127.0.N.3. Each
    is paced within the broker's per-address limit, so that every frame is parsed,
    and together they reach the issue's 100,000 frames in half a minute."""
    return [ATTACKER_HOST, *(f"127.0.{n}.3" for n in range(1, count))]


SOCKETS = 8
WINDOW = 32  # unanswered frames per socket
STALL = 1.0  # seconds without a reply before a socket's window is written off
MAX_FRAME = 65536  # the ROUTER's MAXMSGSIZE: a larger frame cuts its connection off

_VALUES: list[Any] = [
    None, True, 0, -1, 2**64 - 1, -(2**63), 1.5, float("nan"), "", "x" * 70, "général",
    b"\xff\x00", [], [1, "a"], {}, {"a": {"b": []}}, "../../etc", "a" * 33,
]  # fmt: skip


def _templates(rng: random.Random) -> list[dict[str, Any]]:
    ref: Any = rng.choice([1, "r", None, 2**40])
    return [
        {"type": "register", "user": fresh_name("fz"), "proto": 1, "rooms": ["general"],
         "ref": ref},
        {"type": "join", "room": "fuzz", "ref": ref},
        {"type": "leave", "room": "fuzz", "ref": ref},
        {"type": "chat", "room": "general", "text": "hello", "data": {"k": [1, 2]}, "ref": ref},
        {"type": "pm", "to": "bystander", "text": "hi", "ref": ref},
        {"type": "who", "room": "general", "ref": ref},
        {"type": "rooms", "ref": ref},
        {"type": "history", "room": "general", "after": 0, "limit": 10, "ref": ref},
        {"type": "history", "with": "bystander", "before": 5, "ref": ref},
        {"type": "ping", "ref": ref},
    ]  # fmt: skip


def _nested(rng: random.Random) -> bytes:
    depth = rng.choice([33, 100, 1000, 30_000])
    one = b"\x91" if rng.random() < 0.5 else b"\x81\xa1k"  # an array or a map of one
    inner = one * depth + b"\xc0"
    if rng.random() < 0.5:
        return inner
    head = pack({"type": "chat", "room": "general", "text": "n"})
    return bytes([head[0] + 1]) + head[1:] + b"\xa4data" + inner  # one more key: data


def _huge(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        size = rng.choice([5000, 60_000, 70_000])  # the last is over the 64 KiB frame limit
        return pack({"type": "chat", "room": "general", "text": "x" * size})
    if kind == 1:
        return pack({"type": "chat", "room": "general", "text": "t",
                     "data": {str(i): i for i in range(rng.choice([2000, 9000]))}})  # fmt: skip
    if kind == 2:
        return pack({"type": "join", "room": ["r"] * 20_000})
    return b"\xdd\xff\xff\xff\xff" + b"\xc0" * 100  # an array that claims 4 G items


def _confused(rng: random.Random, msg: dict[Any, Any]) -> bytes:
    key = rng.choice([*msg, "type", "ref", "extra"])
    msg[key] = rng.choice(_VALUES)
    if rng.random() < 0.1:
        msg[rng.choice([1, b"k", 2.5])] = 1  # non-str keys
    return msgpack.packb(msg, use_bin_type=rng.random() < 0.8)  # type: ignore[no-any-return]


def frame(rng: random.Random) -> list[bytes]:
    """One fuzz message: usually a single frame, sometimes several."""
    msg = rng.choice(_templates(rng))
    kind = rng.randrange(10)
    if kind == 0:
        return [rng.randbytes(rng.randrange(0, 200))]
    if kind in (1, 2):
        flipped = bytearray(pack(msg))
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(flipped))
            flipped[i] ^= 1 << rng.randrange(8)
        return [bytes(flipped)]
    if kind == 3:
        data = pack(msg)
        return [data[: rng.randrange(len(data))]]
    if kind in (4, 5):
        return [_confused(rng, msg)]
    if kind == 6:
        return [_nested(rng)]
    if kind == 7:
        return [_huge(rng)]
    if kind == 8:
        return [pack(msg), *[rng.randbytes(rng.randrange(20)) for _ in range(rng.randrange(1, 4))]]
    tail = rng.choice([b"\xc0", b"\xd4\x05\x00", b"\xc7\x00\x07", rng.randbytes(3)])
    return [pack(msg) + tail]  # trailing bytes, ext types


def _pub_garbage(rng: random.Random) -> list[bytes]:
    kind = rng.randrange(4)
    if kind == 0:
        return [b"\x01" + rng.randbytes(rng.randrange(0, 100))]  # a subscription to junk
    if kind == 1:
        return [b"\x00" + rng.randbytes(rng.randrange(0, 40))]  # an unsubscription
    if kind == 2:
        return [rng.randbytes(rng.randrange(0, 300))]  # a message: not allowed
    return [b"\x01general\x00", rng.randbytes(50)]  # a request with a second frame


class _Pool:
    """The fuzzing DEALERs, each with up to ``WINDOW`` frames the broker has not
    answered yet; every frame that fits the frame limit must get an answer."""

    def __init__(self, context: zmq.Context[Any], host: str, port: int) -> None:
        self.context, self.host, self.port = context, host, port
        self.socks = [dealer(context, host, port) for _ in range(SOCKETS)]
        welcome: dict[str, Any] = {}
        for sock in self.socks[: SOCKETS // 2]:  # half of them fuzz a live session
            welcome = register(sock, fresh_name("fz"), ["general", "fuzz"]) or welcome
        # Within the address's limit, so that every frame is parsed, not refused unread.
        self.pacer = Pacer(welcome)
        self.outstanding = [0] * SOCKETS
        self.waiting_since = [time.monotonic()] * SOCKETS
        self.replies = self.unanswered = self.oversized = 0

    def read(self) -> None:
        for i, sock in enumerate(self.socks):
            while sock.poll(0):
                sock.recv()
                self.replies += 1
                self.outstanding[i] = max(0, self.outstanding[i] - 1)
                self.waiting_since[i] = time.monotonic()
            if self.outstanding[i] and time.monotonic() - self.waiting_since[i] > STALL:
                self.unanswered += self.outstanding[i]
                self.outstanding[i] = 0

    def free(self) -> int | None:
        """A socket with room in its window, if any."""
        return next((i for i, n in enumerate(self.outstanding) if n < WINDOW), None)

    def send(self, i: int, frames: list[bytes]) -> None:
        if max(map(len, frames)) > MAX_FRAME:  # no answer: its connection goes, so not ours
            cut = dealer(self.context, self.host, self.port)
            cut.setsockopt(zmq.LINGER, 2000)
            cut.send_multipart(frames)
            cut.close()
            self.oversized += 1
            return
        self.socks[i].send_multipart(frames)
        self.outstanding[i] += 1
        if self.outstanding[i] == 1:  # the stall clock starts with the first unanswered
            self.waiting_since[i] = time.monotonic()

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while sum(self.outstanding) and time.monotonic() < deadline:
            zmq.select(self.socks, [], [], 0.05)
            self.read()
        self.unanswered += sum(self.outstanding)


def fuzz(port: int, pub_port: int, plan: Plan, reports: Any, stop: Any) -> None:
    """Send ``plan.fuzz_frames`` fuzz messages to the ROUTER, from
    ``plan.fuzz_addresses`` source addresses, and ``plan.fuzz_pub_messages`` to the
    XPUB, then report and return."""
    seed = plan.fuzz_seed if plan.fuzz_seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    context: zmq.Context[Any] = zmq.Context()
    try:
        pools = [_Pool(context, host, port) for host in fuzz_hosts(plan.fuzz_addresses)]
        socks = [sock for pool in pools for sock in pool.socks]
        xsubs = []
        for _ in range(4):
            xsub = context.socket(zmq.XSUB)
            xsub.setsockopt(zmq.LINGER, 0)
            xsub.connect(endpoint(ATTACKER_HOST, pub_port))
            xsubs.append(xsub)
        _armed(reports)
        sent = pub_sent = 0
        pub_every = max(1, plan.fuzz_frames // max(1, plan.fuzz_pub_messages))
        while sent < plan.fuzz_frames and not stop.is_set():
            busy = True
            for pool in pools:
                pool.read()
                i = pool.free() if pool.pacer.ready() else None
                if i is None:
                    continue
                busy = False
                pool.send(i, frame(rng))
                pool.pacer.spend()
                sent += 1
                if sent % pub_every == 0:
                    with contextlib.suppress(zmq.Again):  # cut off, reconnecting
                        rng.choice(xsubs).send_multipart(_pub_garbage(rng), zmq.NOBLOCK)
                        pub_sent += 1
            if busy:  # every address at its pace or its window full
                zmq.select(socks, [], [], 0.005)
        for pool in pools:
            pool.drain(5 * STALL)
        rate = sum(pool.pacer.rate for pool in pools)
        note = (
            f"{sent} fuzz frames from {len(pools)} addresses "
            f"({sum(p.replies for p in pools)} answered, "
            f"{sum(p.unanswered for p in pools)} unanswered, "
            f"{sum(p.oversized for p in pools)} over 64 KiB on connections of their own), "
            f"{pub_sent} garbage messages on the XPUB; {rate:.0f} frames/s; seed {seed}"
        )
        reports.put(("note", note))
    finally:
        context.destroy(linger=0)
