"""The broker's in-memory state: sessions, rooms, membership and rate buckets.

Pure data structures with no I/O. The request handlers mutate them; the server loop
asks them for the next expiry deadline.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Protocol

from zmqchat.common.messages import ChatAck, PmAck, Ref

# How many recent chat/pm acks a session remembers for de-duplicating retries. A
# client only retries what it had in flight when its connection dropped, so this
# bounds the window of unacknowledged requests a client may keep outstanding.
REF_CACHE_SIZE = 1024


class Connections(Protocol):
    """What the server knows of the connections behind routing ids, each named by
    its file descriptor (:class:`zmqchat.broker.peers.ConnectionWatch`)."""

    def closed(self) -> Iterable[int]:
        """Connections that ended since the last call, oldest first."""

    def is_open(self, conn: int) -> bool:
        """False only if ``conn`` is known to have ended."""


class TokenBucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means the caller is over the limit."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = min(tokens, self.burst) - 1.0
            return True
        self.tokens = tokens
        return False


@dataclasses.dataclass(slots=True, eq=False)
class Session:
    """One registered user. ``rid`` is None while detached: restored from the store
    after a broker restart, or its connection closed, and waiting for its client to
    ``resume``. ``conn`` is the connection (file descriptor) ``rid`` stood for when
    the session was bound to it, if the server said."""

    sid: int
    token: str
    user: str
    key: str
    rid: bytes | None
    last_seen: float
    client: str | None = None
    conn: int | None = None
    rooms: dict[str, None] = dataclasses.field(default_factory=dict)  # ordered set
    bucket: TokenBucket | None = None
    # (account id, password generation) when the session was opened with a password:
    # its token stands for that password until the password changes.
    login: tuple[int, int] | None = None
    # With CURVE: the client public key (Z85) of the connection that opened or last
    # took the session over; a `resume` from another key can't take it (None: not
    # known, as for a session restored after a restart).
    curve_key: str | None = None
    # The peer's IP it registered or last logged in from (None: not known, as after
    # a restart), for the per-address budgets.
    address: str | None = None
    # ref -> (fingerprint of the request, its ack): see fingerprint().
    acks: OrderedDict[Ref, tuple[int, ChatAck | PmAck]] = dataclasses.field(
        default_factory=OrderedDict
    )
    # What its subscriptions carry (see ticket_of); set from the token.
    ticket: str = dataclasses.field(init=False, default="")
    # When it last sent a pm delivered here (monotonic), and whether the ack of one
    # is held for a shared commit (Flush.forward): see Relay.pm.
    last_pm: float = dataclasses.field(init=False, default=-1e9)
    ack_held: bool = dataclasses.field(init=False, default=False)

    def __post_init__(self) -> None:
        self.ticket = ticket_of(self.token)

    def remember(self, ref: Ref, print_: int, ack: ChatAck | PmAck) -> None:
        """Keep an ack so a retry of the same request gets it again."""
        if ref is None:
            return
        self.acks[ref] = (print_, ack)
        if len(self.acks) > REF_CACHE_SIZE:
            self.acks.popitem(last=False)

    def forget(self, ref: Ref) -> None:
        """Drop the ack kept for ``ref`` (its message turned out undelivered)."""
        if ref is not None:
            self.acks.pop(ref, None)

    def recall(self, ref: Ref, print_: int) -> ChatAck | PmAck | None:
        """The ack of an earlier request with this ``ref`` and the same fingerprint."""
        if ref is None:
            return None
        entry = self.acks.get(ref)
        if entry is None or entry[0] != print_:
            return None
        return entry[1]


def ticket_of(token: str) -> str:
    """A session's subscription ticket: a one-way function of its token, so that the
    ticket (sent again by a subscriber at every reconnect, and shown to whoever
    reads the PUB side's traffic in plaintext mode) lets its holder read the
    session's rooms but never act as the session. The same after a resume or a
    broker restart, since the token is."""
    digest = hashlib.blake2b(token.encode(), digest_size=16, person=b"zmqchat-ticket")
    return digest.hexdigest()


def fingerprint(kind: str, target: str, text: str) -> int:
    """Identifies a request for retry matching: a ref reused for a different message
    (another room, another text, a restarted client counting from 1) is not a retry."""
    return hash((kind, target, text))


@dataclasses.dataclass(slots=True, eq=False)
class Room:
    """A room with at least one member; ``seq`` is its head (last sequence number)."""

    name: str
    seq: int
    members: dict[str, Session] = dataclasses.field(default_factory=dict)  # by user key

    def member_names(self) -> list[str]:
        return sorted((s.user for s in self.members.values()), key=str.lower)


class BrokerState:
    """Sessions indexed by routing id, connection, user key and token; rooms by
    canonical name."""

    def __init__(self) -> None:
        self.by_rid: dict[bytes, Session] = {}
        self.by_conn: dict[int, Session] = {}
        self.by_key: dict[str, Session] = {}
        self.by_token: dict[str, Session] = {}
        self.by_ticket: dict[str, Session] = {}
        # Detached sessions by the address they came from, oldest detached first, for
        # the bound on them (max_detached_per_address).
        self.detached: dict[str, dict[str, Session]] = {}
        # Rooms that lost their last member since the forgetting sweep last looked.
        self.emptied: set[str] = set()
        self.rooms: dict[str, Room] = {}
        # The names of ``rooms``, sorted: a page of `rooms` starts with a bisect
        # instead of sorting them all (about 10 ms with 20,000 rooms).
        self.room_names: list[str] = []
        # Rooms created private (members-only in every auth mode), by canonical name.
        self.private_rooms: set[str] = set()
        # Least recently active first, so expiry only looks at the front.
        self._activity: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self.by_token)

    def clear(self) -> None:
        """Forget every session and room (to load them again from the store)."""
        tables = (
            self.by_rid,
            self.by_conn,
            self.by_key,
            self.by_token,
            self.by_ticket,
            self.detached,
            self.emptied,
            self.rooms,
            self.room_names,
        )
        for table in (*tables, self._activity):
            table.clear()

    @property
    def attached(self) -> int:
        return len(self.by_rid)

    def add(self, session: Session) -> None:
        self.by_key[session.key] = session
        self.by_token[session.token] = session
        self.by_ticket[session.ticket] = session
        if session.rid is not None:
            self.by_rid[session.rid] = session
            if session.conn is not None:
                self.by_conn[session.conn] = session
        self._activity[session.token] = session

    def remove(self, session: Session) -> None:
        self.by_key.pop(session.key, None)
        self.by_token.pop(session.token, None)
        self.by_ticket.pop(session.ticket, None)
        self._activity.pop(session.token, None)
        self.detach(session)
        self._undetach(session)
        for name in session.rooms:
            room = self.rooms.get(name)
            if room is not None:
                room.members.pop(session.key, None)
                if not room.members:
                    self._empty(name)

    def retoken(self, session: Session, token: str) -> None:
        """Give ``session`` a new token (and so a new ticket): the old ones end."""
        for table, key in ((self.by_token, session.token), (self.by_ticket, session.ticket)):
            if table.get(key) is session:
                del table[key]
        self._undetach(session)
        was_active = self._activity.pop(session.token, None) is not None
        session.token = token
        session.ticket = ticket_of(token)
        self.by_token[token] = session
        self.by_ticket[session.ticket] = session
        if was_active:
            self._activity[token] = session  # as recently active as a takeover makes it

    def attach(
        self, session: Session, rid: bytes, now: float, conn: int | None = None
    ) -> bytes | None:
        """Bind ``session`` to a new routing id (on connection ``conn``, if known);
        return the id it replaced, if any."""
        old = self.detach(session)
        self._undetach(session)
        session.rid = rid
        self.by_rid[rid] = session
        if conn is not None:
            session.conn = conn
            self.by_conn[conn] = session
        self.touch(session, now)
        return old if old != rid else None

    def detach(self, session: Session) -> bytes | None:
        """Unbind ``session`` from its routing id and connection, which then lead to
        nothing; the session waits for ``resume``. Returns the id it had."""
        old, conn = session.rid, session.conn
        if old is not None and self.by_rid.get(old) is session:
            del self.by_rid[old]
        if conn is not None and self.by_conn.get(conn) is session:
            del self.by_conn[conn]
        session.rid = session.conn = None
        if session.address is not None and self.by_token.get(session.token) is session:
            self.detached.setdefault(session.address, {})[session.token] = session
        return old

    def detached_past(self, address: str | None, bound: int) -> list[Session]:
        """The oldest detached sessions of ``address`` beyond the first ``bound``."""
        waiting = self.detached.get(address) if address is not None else None
        if not waiting or len(waiting) <= bound:
            return []
        return [waiting[token] for token in list(waiting)[: len(waiting) - bound]]

    def _undetach(self, session: Session) -> None:
        if session.address is None:
            return
        waiting = self.detached.get(session.address)
        if waiting is not None and waiting.pop(session.token, None) is not None and not waiting:
            del self.detached[session.address]

    def connection_closed(self, conn: int) -> Session | None:
        """Connection ``conn`` is over: detach the session bound to it, if any."""
        session = self.by_conn.get(conn)
        if session is not None:
            self.detach(session)
        return session

    def touch(self, session: Session, now: float) -> None:
        session.last_seen = now
        self._activity.move_to_end(session.token)

    def expired(self, now: float, timeout: float) -> Iterator[Session]:
        """Sessions idle for longer than ``timeout``, oldest first (safe to remove)."""
        while self._activity:
            session = next(iter(self._activity.values()))
            if now - session.last_seen <= timeout:
                return
            self._activity.pop(session.token)
            yield session

    def next_expiry(self, timeout: float) -> float | None:
        """When the least recently active session expires, or None without sessions."""
        if not self._activity:
            return None
        return next(iter(self._activity.values())).last_seen + timeout

    def join(self, session: Session, room: Room) -> None:
        session.rooms[room.name] = None
        room.members[session.key] = session
        if room.name not in self.rooms:
            bisect.insort(self.room_names, room.name)
        self.rooms[room.name] = room

    def leave(self, session: Session, name: str) -> None:
        session.rooms.pop(name, None)
        room = self.rooms.get(name)
        if room is not None:
            room.members.pop(session.key, None)
            if not room.members:
                self._empty(name)

    def _empty(self, name: str) -> None:
        # Empty rooms leave memory; the store keeps their head for next time (and
        # forgets a room nobody chatted in: broker/forgetting.py).
        del self.rooms[name]
        names = self.room_names
        del names[bisect.bisect_left(names, name)]
        self.emptied.add(name)
