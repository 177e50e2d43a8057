"""A turn's batch of requests, read from the broker's ROUTER and handled (the loop
is :mod:`.server`'s; what a batch produced is sent by :mod:`.flush`)."""

from __future__ import annotations

import time
from typing import Final, cast

import zmq

from zmqchat.broker.endpoints import with_address
from zmqchat.broker.flush import Flush
from zmqchat.broker.handlers import BrokerCore

# Requests handled per loop turn before committing and sending. One commit costs
# about as much as 20 chats, so batches amortise it; but a batch also holds back its
# acks, and a sender with a window of requests in flight idles meanwhile. 64 (about
# 1 ms of work) measured best: 512 was 18% slower in benchmarks/bench_rooms.py.
BATCH: Final = 64
# A batch also ends after this many seconds of handling, so that requests which cost
# more (a history page, a hostile frame) hold back the rest of a batch no longer than
# a batch of chats does. 64 chats take well under it, so batches of chats stay whole
# (a shorter budget would cut them on a slower machine, and each commit costs about
# 20 chats); 64 history pages of 0.2-0.5 ms made turns of 3-30 ms under make
# attack's deaf-dealer, and a bystander's chat waited for two of them.
TURN: Final = 0.002
# Flags as plain ints: or-ing the IntFlag members builds an enum on every send.
_NOBLOCK: Final = int(zmq.NOBLOCK)
_RCVMORE: Final = int(zmq.RCVMORE)
_EVENTS: Final = int(zmq.EVENTS)
_get = zmq.backend.Socket.get
_POLLIN: Final = int(zmq.POLLIN)


def drain(core: BrokerCore, router: zmq.Socket[bytes], flush: Flush, *, curve: bool) -> None:
    """Handle a batch of requests waiting on ``router``: up to BATCH, or TURN seconds
    of handling; a private message goes on to its recipient as soon as it is handled,
    and so does a reply that waits for no commit (:meth:`Flush.forward`).
    ``curve``: the sockets are CURVE servers."""
    now = time.monotonic()
    pms, early = core.out.pms, core.out.now
    recv = router.recv
    more = router.getsockopt  # the rcvmore property goes through Python attribute magic
    handle = core.handle
    registered = core.state.by_rid
    clock = time.monotonic
    turn_ends = now + TURN
    events = _events
    for n in range(BATCH):
        if n == 1 and not events(router) & _POLLIN:
            # Most turns of a conversation hold one request: asking whether
            # another waits costs half of the receive that fails (zmq.Again is
            # built in Python). Past the first, a batch goes on until one fails.
            return
        try:
            rid = recv(_NOBLOCK)
        except zmq.Again:
            return
        # Multipart messages arrive whole, so the rest can be read without waiting.
        if rid in registered:
            # A session is bound to its connection, and CURVE authenticates a
            # connection once, at its handshake: its key (read at register) is
            # the key of every frame on it, so none is read here. The frame comes
            # as a zmq Frame, whose `more` libzmq sets as it is received: reading
            # RCVMORE instead costs pyzmq an enum lookup, about 2 us a request.
            body = recv(copy=False)
            frame, extra = body.bytes, bool(body.more)
            peer = key = None
        else:
            # Only a connection without a session may be logging in: only then is
            # the peer's address (for the attempt limits) worth its cost, a zmq
            # Frame's properties: +2.7 us a message, where the broker spends
            # about 9 us on a chat (docs/performance.md).
            frame, peer, key = with_address(recv(copy=False), curve)
            extra = bool(more(_RCVMORE))
        if extra:
            while more(_RCVMORE):
                recv()
            handle(rid, frame, now, extra_frames=True, peer=peer, client_key=key)
        else:
            handle(rid, frame, now, peer=peer, client_key=key)
        if pms or early:
            if n:
                # The receives since the batch's first request may have let
                # libzmq hand a closed connection's routing id to a new peer:
                # learn of the closing first, as the flush's sync does for
                # replies (the first request's handler has just synced).
                core.sync_connections()
            flush.forward(core)
        if clock() >= turn_ends:
            return


def _events(sock: zmq.Socket[bytes]) -> int:
    """ZMQ_EVENTS, read without the Router's own get (which only tracks RCVMORE)."""
    return cast(int, _get(sock, _EVENTS))
