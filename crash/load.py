"""One load process: a user that chats in its rooms, sends private messages to the
other load users, joins and leaves a room of its own, and now and then registers a
fresh user that says one thing and leaves. It records every acknowledgement, every
refusal and every event its library delivers (:mod:`crash.records`).

It talks only through the public client library: whatever the library does after a
broker restart (resume, retry with the same ``ref``, fill gaps) is what is checked.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import random
import threading
import time
import traceback
from typing import Any

from crash.records import Recorder
from zmqchat import Client, PmEvent, StatusEvent
from zmqchat.common.messages import ChatAck, ChatEvent, PmAck
from zmqchat.common.requests import Pm
from zmqchat.errors import BrokerError, ConnectionClosed, Timeout, ZmqchatError

# How long one request may wait, broker restarts included; a request still without an
# answer then counts as refused, not as lost.
REQUEST_TIMEOUT = 60.0
# Large enough that the recording thread never falls so far behind that the library
# drops events: a drop would look like a lost delivery.
MAX_EVENTS = 1_000_000
HISTORY_PAGE = 500


@dataclasses.dataclass(frozen=True)
class LoadPlan:
    """What one load process does; picklable, for a spawned process."""

    endpoint: str
    name: str  # the user, also the program's name in the records
    peers: tuple[str, ...]  # the other load users, recipients of its pms
    rooms: tuple[str, ...]  # rooms it stays in
    churn_room: str  # the room it keeps joining and leaving
    records: str  # its JSON-lines file
    rate: float  # requests per second; 0: as fast as the window allows
    window: int  # chats and pms in flight at once
    max_ops: int  # requests at most
    deadline: float  # wall-clock time at which it stops by itself
    seed: int
    fresh_every: float  # seconds between fresh registers
    weights: tuple[float, float, float] = (0.6, 0.35, 0.05)  # chat, pm, join/leave


@dataclasses.dataclass
class _InFlight:
    kind: str  # "chat" or "pm"
    target: str  # room or recipient
    text: str
    future: concurrent.futures.Future[Any]
    n: int = 0  # the order its client sent it in


def run_load(plan: LoadPlan, reports: Any, go: Any, stop: Any, final: Any) -> None:
    """The body of a load process.

    ``reports`` (a multiprocessing queue) tells the driver ``ready``, every
    ``status`` change, ``settled`` (nothing in flight) and ``done``; ``go``, ``stop``
    and ``final`` (multiprocessing events) say start sending (every peer is
    registered), stop sending, then read the store back and end.
    """
    recorder = Recorder(plan.records)
    try:
        _Load(plan, recorder, reports).run(go, stop, final)
    except BaseException as exc:
        recorder.write("failed", c=plan.name, error=repr(exc), trace=traceback.format_exc())
        reports.put(("failed", plan.name, time.time(), repr(exc)))
        raise
    finally:
        recorder.close()


class _Load:
    def __init__(self, plan: LoadPlan, recorder: Recorder, reports: Any) -> None:
        self.plan = plan
        self.rec = recorder
        self.reports = reports
        self.rng = random.Random(plan.seed)
        self.inflight: collections.deque[_InFlight] = collections.deque()
        self.ops = 0
        self.texts = 0  # every text is unique in the run: its writer's name and a count
        self.fresh = 0
        self.next_fresh = time.monotonic() + plan.fresh_every
        self.senders: set[str] = set(plan.peers)  # whose pms to read back at the end
        self.rooms: set[str] = set()
        self.client = Client(
            plan.name,
            plan.endpoint,
            rooms=plan.rooms,
            client_name="crash-load",
            request_timeout=REQUEST_TIMEOUT,
            connect_timeout=30.0,
            max_events=MAX_EVENTS,
        )

    # ------------------------------------------------------------------ phases

    def run(self, go: Any, stop: Any, final: Any) -> None:
        welcome = self.client.connect()
        self.rec.write("welcome", c=self.plan.name, session=welcome.session, rooms=welcome.rooms)
        self.rooms = set(welcome.rooms)
        recording = threading.Thread(target=self._record_events, name="crash-events")
        recording.start()
        self.reports.put(("ready", self.plan.name, time.time()))
        try:
            self._wait(go)
            self._send_until(stop)
            self._settle(keep=0)
            self.reports.put(("settled", self.plan.name, time.time(), self.ops))
            # Every other load process has stopped sending too: what the store holds
            # for this session now is all it will ever hold.
            self._wait(final)
            self._read_back_pms()
        finally:
            self.client.close()
            recording.join(10)
        self.reports.put(("done", self.plan.name, time.time(), self.client.dropped_events))

    def _wait(self, event: Any) -> None:
        while not event.wait(0.5):
            if time.time() > self.plan.deadline + 120:
                raise TimeoutError("the driver stopped giving orders")

    def _send_until(self, stop: Any) -> None:
        plan = self.plan
        interval = 1.0 / plan.rate if plan.rate > 0 else 0.0
        next_op = time.monotonic()
        while not stop.is_set() and self.ops < plan.max_ops and time.time() < plan.deadline:
            if interval:
                delay = next_op - time.monotonic()
                if delay > 0:
                    stop.wait(delay)  # pacing the load, not waiting for a condition
                next_op = max(next_op + interval, time.monotonic() - 1.0)
            self._settle(keep=plan.window - 1)
            if time.monotonic() >= self.next_fresh:
                self.next_fresh = time.monotonic() + plan.fresh_every
                self._fresh_register()
                continue
            kind = self.rng.choices(("chat", "pm", "churn"), plan.weights)[0]
            self.ops += 1
            if kind == "chat":
                self._chat()
            elif kind == "pm":
                self._pm()
            else:
                self._churn()

    # ---------------------------------------------------------------- requests

    def _text(self, client: str) -> str:
        self.texts += 1
        return f"{client}:{self.texts}"

    def _chat(self) -> None:
        if not self.rooms:
            return
        room = self.rng.choice(sorted(self.rooms))
        text = self._text(self.plan.name)
        future = self.client.send_async(room, text)
        self.inflight.append(_InFlight("chat", room, text, future, self.texts))

    def _pm(self) -> None:
        to = self.rng.choice(self.plan.peers)
        text = self._text(self.plan.name)
        future = self.client.request(Pm(to=to, text=text))
        self.inflight.append(_InFlight("pm", to, text, future))

    def _churn(self) -> None:
        # The rooms it is in are what the broker's replies said: Client.rooms can
        # still show a room for a moment after leave() returned.
        room = self.plan.churn_room
        op = "leave" if room in self.rooms else "join"
        try:
            if op == "leave":
                self.client.leave(room)
                self.rooms.discard(room)
            else:
                self.rooms.add(self.client.join(room).room)
            self.rec.write(op, c=self.plan.name, room=room, n=self.texts)
        except ZmqchatError as exc:
            self.rec.write("refused", c=self.plan.name, op=op, target=room, error=_why(exc))
            if _why(exc) == "not_in_room":
                # A leave retried after a restart whose first try the broker had done.
                self.rooms.discard(room)

    def _settle(self, keep: int | None = None) -> None:
        """Record the outcome of the finished requests at the front of the window;
        then, with ``keep``, wait for the oldest until at most ``keep`` are in flight."""
        while self.inflight:
            head = self.inflight[0]
            if not head.future.done():
                if keep is None or len(self.inflight) <= keep:
                    return
                concurrent.futures.wait([head.future], REQUEST_TIMEOUT + 5)
            self._outcome(self.plan.name, self.inflight.popleft())

    def _outcome(self, client: str, sent: _InFlight) -> None:
        try:
            reply = sent.future.result(0)
        except (ZmqchatError, concurrent.futures.TimeoutError) as exc:
            self.rec.write(
                "refused", c=client, op=sent.kind, target=sent.target, text=sent.text,
                error=_why(exc),
            )  # fmt: skip
            return
        if isinstance(reply, ChatAck):
            self.rec.write(
                "chat_ack", c=client, room=reply.room, seq=reply.seq, text=sent.text, n=sent.n
            )
        elif isinstance(reply, PmAck):
            self.rec.write("pm_ack", c=client, to=reply.to, id=reply.id, text=sent.text)
        else:
            self.rec.write("refused", c=client, op=sent.kind, error=f"reply {reply!r}")

    def _fresh_register(self) -> None:
        """A new user: register, one chat, one pm to this load user, bye. Its pm goes to
        its own process's user, which reads its ``history with`` back at the end."""
        self.fresh += 1
        name = f"{self.plan.name}f{self.fresh}"
        room = self.plan.rooms[0]
        fresh = Client(
            name, self.plan.endpoint, rooms=(room,), client_name="crash-fresh",
            request_timeout=REQUEST_TIMEOUT, connect_timeout=30.0,
        )  # fmt: skip
        try:
            fresh.connect()
        except ZmqchatError as exc:
            self.rec.write("refused", c=name, op="register", error=_why(exc))
            return
        try:
            self.rec.write("fresh", c=name, session=fresh.session)
            self.senders.add(name)
            text = self._text(name)
            chat = fresh.send_async(room, text)
            self._await(name, _InFlight("chat", room, text, chat, self.texts))
            text = self._text(name)
            pm = fresh.request(Pm(to=self.plan.name, text=text))
            self._await(name, _InFlight("pm", self.plan.name, text, pm))
        finally:
            fresh.close()

    def _await(self, client: str, sent: _InFlight) -> None:
        concurrent.futures.wait([sent.future], REQUEST_TIMEOUT + 5)
        self._outcome(client, sent)

    # -------------------------------------------------------------- the end

    def _read_back_pms(self) -> None:
        """Record every pm the store holds for this session, from each sender."""
        for sender in sorted(self.senders):
            after = 0
            while True:
                try:
                    page = self.client.history(with_user=sender, after=after, limit=HISTORY_PAGE)
                except ZmqchatError as exc:
                    self.rec.write("refused", c=self.plan.name, op="history", target=sender,
                                   error=_why(exc))  # fmt: skip
                    break
                for pm in page.messages:
                    if isinstance(pm, PmEvent):
                        self.rec.write("stored_pm", c=self.plan.name, id=pm.id, sender=pm.sender,
                                       to=pm.to, text=pm.text)  # fmt: skip
                        after = max(after, pm.id)
                if not page.more or not page.messages:
                    break

    def _record_events(self) -> None:
        name = self.plan.name
        for event in self.client.events():
            if isinstance(event, ChatEvent):
                self.rec.write("chat", c=name, room=event.room, seq=event.seq, text=event.text)
            elif isinstance(event, PmEvent):
                self.rec.write("pm", c=name, id=event.id, sender=event.sender, text=event.text)
            elif isinstance(event, StatusEvent):
                now = time.time()
                self.rec.write(
                    "status", c=name, state=event.state, resumed=event.resumed,
                    reason=event.reason, t=now,
                )  # fmt: skip
                self.reports.put(("status", name, now, event.state, event.resumed))


def _why(exc: BaseException) -> str:
    if isinstance(exc, BrokerError):
        return exc.code
    if isinstance(exc, Timeout | concurrent.futures.TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionClosed):
        return "closed"
    return repr(exc)
