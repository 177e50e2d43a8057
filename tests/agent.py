"""A zmqchat.Client in its own process, for integration tests (see helpers.Agent).

usage: agent.py ENDPOINT USER [ROOM ...]
Prints JSON lines: {"kind": "welcome"}, {"kind": "event", "event": {...}},
{"kind": "reply"|"error", "id": N, ...}. Reads JSON commands on stdin.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import sys
import threading
from typing import Any

from zmqchat import BrokerError, Client, StatusEvent, ZmqchatError
from zmqchat.common.messages import Record

_lock = threading.Lock()


def emit(**line: Any) -> None:
    with _lock:
        sys.stdout.write(json.dumps(line, default=str) + "\n")
        sys.stdout.flush()


def as_dict(obj: Any) -> Any:
    if isinstance(obj, Record):
        return obj.to_wire()
    if isinstance(obj, StatusEvent):
        return {"type": "status", "state": obj.state, "reason": obj.reason, "resumed": obj.resumed}
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)  # type: ignore[arg-type]
    if isinstance(obj, list):
        return [as_dict(o) for o in obj]
    return obj


def flood(client: Client, ident: int, room: str, count: int, window: int, prefix: str) -> None:
    """Send ``count`` messages with up to ``window`` in flight; report every ack."""
    in_flight: dict[concurrent.futures.Future[Any], str] = {}
    acked = failed = 0
    for n in range(count):
        text = f"{prefix}{n}"
        in_flight[client.send_async(room, text)] = text
        while len(in_flight) >= window or (n == count - 1 and in_flight):
            done, _ = concurrent.futures.wait(in_flight, return_when="FIRST_COMPLETED")
            for future in done:
                text = in_flight.pop(future)
                try:
                    ack = future.result()
                except ZmqchatError as exc:
                    failed += 1
                    emit(kind="nack", id=ident, text=text, error=str(exc))
                else:
                    acked += 1
                    emit(kind="ack", id=ident, text=text, seq=ack.seq)
    emit(kind="done", id=ident, acked=acked, failed=failed)


def main() -> None:
    endpoint, user, *rooms = sys.argv[1:]
    client = Client(
        user,
        endpoint,
        rooms=rooms or ["general"],
        on_event=lambda e: emit(kind="event", event=as_dict(e)),
    )
    try:
        welcome = client.connect()
    except ZmqchatError as exc:
        emit(kind="refused", error=str(exc), code=getattr(exc, "code", None))
        return
    emit(kind="welcome", welcome=welcome.to_wire())
    calls = {
        "send": lambda a: client.send(a["room"], a["text"], data=a.get("data")),
        "pm": lambda a: client.pm(a["to"], a["text"]),
        "join": lambda a: client.join(a["room"]),
        "edit": lambda a: client.edit(a["room"], a["of"], a["text"]),
        "delete": lambda a: client.delete(a["room"], a["of"]),
        "leave": lambda a: client.leave(a["room"]),
        "topic": lambda a: client.topic(a["room"], a.get("text")),
        "who": lambda a: client.who(a.get("room")),
        "history": lambda a: client.history(
            a.get("room"), after=a.get("after"), before=a.get("before"), limit=a.get("limit", 50)
        ),
        "state": lambda a: {
            "state": client.state,
            "session": client.session,
            "rooms": list(client.rooms),
            "dropped": client.dropped_events,
        },
    }
    for line in sys.stdin:
        args = json.loads(line)
        op, ident = args["op"], args.get("id")
        if op == "close":
            break
        if op == "flood":
            threading.Thread(
                target=flood,
                args=(
                    client,
                    ident,
                    args["room"],
                    args["count"],
                    args.get("window", 100),
                    args.get("prefix", "m"),
                ),
                daemon=True,
            ).start()
            continue
        try:
            result = calls[op](args)
        except BrokerError as exc:
            emit(kind="error", id=ident, code=exc.code, message=exc.message)
        except ZmqchatError as exc:
            emit(kind="error", id=ident, code=type(exc).__name__, message=str(exc))
        else:
            emit(kind="reply", id=ident, reply=as_dict(result))
    client.close()


if __name__ == "__main__":
    main()
