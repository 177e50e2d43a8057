"""The one place the broker sends to a client over the ROUTER, and what it does
about a client that does not read.

A reply that finds its peer's queue full (``reply_hwm`` frames, see
docs/security.md, "Limits") is dropped, and the session's connection is closed
after the batch: a client that does not read its replies is served no more, and what
libzmq held for it is freed. A client that was only slow reconnects and resumes.
"""

from __future__ import annotations

import logging
from typing import Final

import zmq

from zmqchat.broker.peers import ConnectionWatch, raw_send, shut_down
from zmqchat.broker.state import BrokerState
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

_NOBLOCK: Final = int(zmq.NOBLOCK)
_SNDMORE_NOBLOCK: Final = int(zmq.SNDMORE | zmq.NOBLOCK)


class Replies:
    """Sends frames to peers of ``router`` (bound to ``port``)."""

    def __init__(
        self, router: zmq.Socket[bytes], port: int, watch: ConnectionWatch, hwm: int
    ) -> None:
        self._router = router
        self._port = port
        self._watch = watch
        self._hwm = hwm
        self.full_drops = 0  # frames refused because a peer's queue was full
        self.stalled: set[bytes] = set()  # peers whose queue was full since last closed
        self._logged = Throttle()

    def send(self, rid: bytes | None, body: bytes) -> bool:
        """Send one frame to one peer; False if ZeroMQ could not take it."""
        if rid is None:
            return False
        router = self._router
        try:
            raw_send(router, rid, _SNDMORE_NOBLOCK)
            raw_send(router, body, _NOBLOCK)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                log.debug("frame to %s dropped: peer gone", rid.hex())
            elif exc.errno == zmq.EAGAIN:
                self.full_drops += 1
                self.stalled.add(rid)
            else:
                raise
            return False
        return True

    def close_stalled(self, state: BrokerState) -> None:
        """Close the connection of each session whose queue was full. Peers without
        a session only lose the replies that did not fit."""
        closed: list[str] = []
        for rid in self.stalled:
            session = state.by_rid.get(rid)
            conn = None if session is None else session.conn
            if session is None or conn is None or not self._watch.is_open(conn):
                continue
            if shut_down(conn, self._port):
                closed.append(f"{session.user} ({session.address or 'address unknown'})")
        self.stalled.clear()
        if closed and self._logged.due():
            more = f" and {len(closed) - 5} more" if len(closed) > 5 else ""
            log.warning(
                "closed the connection of %s%s: %d replies queued, not read (reply_hwm); "
                "%d frames dropped so far",
                ", ".join(closed[:5]),
                more,
                self._hwm,
                self.full_drops,
            )
