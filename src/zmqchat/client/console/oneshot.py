"""The one-line commands for scripts and bots: send, tail, pm, who, rooms, history.

Each is a function returning an exit status; :func:`~.runner.run` turns any failure
into one line on stderr and a status from :class:`ExitCode`, so a shell script can
tell a refusal from an unreachable broker from a typo. The argparse wiring is in
:mod:`zmqchat.cli`. Everything goes through :class:`zmqchat.Client`; no protocol
logic lives here.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TextIO

from zmqchat.client.chat.failures import ExitCode, ScriptError, classify
from zmqchat.client.chat.formatting import (
    event_json,
    format_event,
    plain,
    safe_text,
    status_text,
    to_json,
)
from zmqchat.client.chat.mentions import is_mention
from zmqchat.client.chat.paging import earlier_events, events_between
from zmqchat.client.chat.timestamps import DayMarks
from zmqchat.client.console.arguments import parse_data, room_arg
from zmqchat.client.console.outgoing import messages_to_send
from zmqchat.client.console.runner import connected, note, run, write_line
from zmqchat.client.core.events import StatusEvent
from zmqchat.client.io.sync import Client
from zmqchat.common.config import ClientConfig
from zmqchat.common.files import PrivateFileEvent
from zmqchat.common.messages import PmEvent, PresenceEvent, RoomEvent, SystemEvent
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import BrokerError, ConnectionClosed, ProtocolError, Timeout

# A rate-limited message is retried (after a pause that doubles up to RETRY_MAX)
# for this long before `send` gives up on it: a script's messages are not dropped
# just because it sends faster than the broker's per-session rate.
RATE_LIMIT_PATIENCE: Final = 60.0
RETRY_FIRST: Final = 0.05
RETRY_MAX: Final = 1.0
PREVIEW_CHARS: Final = 40


def _preview(text: str) -> str:
    short = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
    return json.dumps(short, ensure_ascii=False)


# ------------------------------------------------------------------------ send


def send_one(
    client: Client, room: str, text: str, data: dict[str, Any] | None, *, external: bool = False
) -> None:
    """Send one message and wait for its ack, riding out the broker's rate limit."""
    pause = RETRY_FIRST
    give_up = time.monotonic() + RATE_LIMIT_PATIENCE
    while True:
        try:
            client.send(room, text, data=data, external=external)
            return
        except BrokerError as exc:
            if exc.code != ErrorCode.RATE_LIMITED or time.monotonic() + pause > give_up:
                raise
        time.sleep(pause)
        pause = min(pause * 2, RETRY_MAX)


def default_room(config: ClientConfig) -> str:
    """The room a command uses when not told: the first of ``rooms`` (client.toml,
    ``ZMQCHAT_ROOMS``), as ``chat`` and ``tail`` do."""
    if not config.rooms:
        raise ScriptError(
            ExitCode.USAGE, "no room to send to: give --room R, or set rooms in client.toml"
        )
    return config.rooms[0]


def send(
    config: ClientConfig,
    *,
    room: str | None = None,
    texts: Sequence[str],
    data: str | None = None,
    user: str | None = None,
    stdin: TextIO | None = None,
    whole: bool = False,
) -> int:
    """``zmqchat send``: every message is acked (or refused) before this returns;
    ``whole``: stdin is one message.

    It posts from outside the room (``external``): the room sees the messages, not
    a join and a leave around them each time a script says something."""
    room = room_arg(room if room is not None else default_room(config))
    payload = parse_data(data)
    messages = messages_to_send(texts, stdin or sys.stdin, whole=whole)
    first = next(messages, None)  # usage errors before connecting
    if first is None:
        return ExitCode.OK
    sent = 0
    refused: list[str] = []
    with connected(config, user, (), "send") as (client, _):
        for label, text in _chain(first, messages):
            try:
                send_one(client, room, text, payload, external=True)
            except (BrokerError, ProtocolError) as exc:  # ProtocolError: over the size limit
                refused.append(f"{label} ({_preview(text)}) refused: {classify(exc).report}")
            except Timeout as exc:
                raise ScriptError(
                    ExitCode.UNREACHABLE,
                    f"broker unreachable: {label} ({_preview(text)}) was not acked "
                    f"({sent} acked before it): {exc}",
                ) from None
            else:
                sent += 1
    if refused:
        total = sent + len(refused)
        raise ScriptError(
            ExitCode.REFUSED, f"{refused[0]} [{len(refused)} of {total} message(s) refused]"
        )
    return ExitCode.OK


def _chain(first: tuple[str, str], rest: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    yield first
    yield from rest


# ------------------------------------------------------------------------ tail


def tail(
    config: ClientConfig,
    *,
    rooms: Sequence[str] = (),
    user: str | None = None,
    as_json: bool = False,
    count: int | None = None,
    since: int | None = None,
    last: int | None = None,
    timeout: float | None = None,
    presence: bool | None = None,
    mentions: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat tail``: print events as they arrive, optionally after some history.

    ``presence``: None shows joins and leaves live but not from history (where
    each earlier `tail`'s come and go would crowd out the messages); True
    shows them in both; False in neither. ``mentions``: a user name; only the
    events for their attention are printed (and counted): chat lines naming them
    and private messages to them, from others (see
    :func:`~zmqchat.client.chat.mentions.is_mention`).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    wanted = [room_arg(r) for r in rooms or config.rooms]
    deadline = None if timeout is None else time.monotonic() + timeout
    printed = 0
    lost = False
    days = DayMarks()

    def show(event: RoomEvent | PmEvent | SystemEvent | PrivateFileEvent) -> bool:
        """Print one event; True once --count is reached."""
        nonlocal printed
        if not _printable(event, presence=presence, mentions=mentions):
            return False
        if as_json:
            write_line(out, event_json(event))
        else:
            # One stream, whatever the room: a line where the day changes.
            mark = days.below("", event.ts)
            if mark is not None:
                write_line(out, plain(mark))
            write_line(out, plain(format_event(event, me=client.user)))
        printed += 1
        return count is not None and printed >= count

    with connected(config, user, wanted, "tail") as (client, welcome):
        # Live events start after each room's head (which is our own join); history
        # is read up to just before it, so nothing is printed twice.
        for room in dict.fromkeys(wanted):
            head = welcome.rooms.get(room)
            if head is None:
                continue
            if since is not None:
                backlog: Iterable[RoomEvent] = events_between(client, room, since, head)
                if not presence:
                    backlog = (e for e in backlog if not isinstance(e, PresenceEvent))
            elif last is not None:
                # --last N: N messages however many joins and leaves lie between.
                backlog = earlier_events(
                    client, room, last, before=head, chat_only=not presence, scan_limit=None
                ).events
            else:
                backlog = ()
            for event in backlog:
                if show(event):
                    return ExitCode.OK
        while True:
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                if count is None:
                    return ExitCode.OK
                # Every non-zero status comes with a reason on stderr.
                note("tail", f"timeout after {timeout:g} s with {printed} of {count} events", err)
                return ExitCode.TIMED_OUT
            try:
                item = client.next_event(timeout=min(wait, 1.0))
            except Timeout:
                continue
            if isinstance(item, StatusEvent):
                # The first `connected` is our own connect(); only later ones, after
                # a `reconnecting`, are news.
                if item.state != "connected" or lost:
                    _status_note(item, err)
                lost = item.state == "reconnecting"
                if item.state == "closed":
                    raise ConnectionClosed(item.reason or "closed", item.error)
                continue
            if show(item):
                return ExitCode.OK


def _printable(
    event: RoomEvent | PmEvent | SystemEvent | PrivateFileEvent,
    *,
    presence: bool | None,
    mentions: str | None,
) -> bool:
    """Whether ``tail`` prints ``event``: not a join or leave with --no-presence,
    and with --mentions NAME only what is for NAME's attention."""
    if isinstance(event, PresenceEvent) and presence is False:
        return False
    return mentions is None or is_mention(event, mentions)


def _status_note(event: StatusEvent, err: TextIO) -> None:
    """Connection changes go to stderr, so stdout holds events only; in the chat
    windows' words, which name the node it moved to."""
    text = status_text(event) if event.state in ("reconnecting", "connected") else None
    if text is not None:
        note("tail", text, err)


# ----------------------------------------------------------- pm, who, rooms, history


def pm(
    config: ClientConfig,
    *,
    to: str,
    texts: Sequence[str],
    data: str | None = None,
    user: str | None = None,
) -> int:
    """``zmqchat pm``: one private message, acked before this returns."""
    payload = parse_data(data)
    text = " ".join(texts)
    with connected(config, user, (), "pm") as (client, _):
        client.pm(to, text, data=payload)
    return ExitCode.OK


def who(
    config: ClientConfig,
    *,
    room: str | None = None,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat who``: the users online, or in one room; one name per line."""
    out = out or sys.stdout
    where = room_arg(room) if room else None
    with connected(config, user, (), "who") as (client, _):
        names = client.who(where)
        me = client.user.lower()
    names = [n for n in names if n.lower() != me]  # this command's own connection
    if as_json:
        write_line(out, to_json(names))
    elif not names:
        # No output could also mean a silent failure; say it is an answer. (With
        # --json, `[]` says so already.)
        note("who", f"no one in #{where}" if where else "no one online", err)
    else:
        for name in names:
            write_line(out, name)
    return ExitCode.OK


def rooms(
    config: ClientConfig,
    *,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat rooms``: every room with members or history: name, member count
    (0 included), last seq, topic; a private room only to its members."""
    out = out or sys.stdout
    with connected(config, user, (), "rooms") as (client, _):
        listing = client.list_rooms()
    if as_json:
        write_line(out, to_json([r.to_wire() for r in listing]))
        return ExitCode.OK
    if not listing:
        note("rooms", "no rooms yet", err)
    width = max((len(r.name) for r in listing), default=4) + 1
    for info in listing:
        members = f"{info.members} member{'s' if info.members != 1 else ''}"
        line = f"#{info.name:<{width}} {members:<12} seq {info.seq}"
        if info.topic:  # last, so the columns before it stay aligned
            line = f"{line:<{width + 26}}  {safe_text(info.topic)}"
        write_line(out, line)
    return ExitCode.OK


def history(
    config: ClientConfig,
    *,
    room: str,
    limit: int = 50,
    as_json: bool = False,
    presence: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat history``: the last ``limit`` messages of a room (events, joins and
    leaves included, with ``presence``), oldest first. It reads from outside the
    room, without joining it: a room that does not exist is ``no_such_room``, never
    created by reading it."""
    out = out or sys.stdout
    room = room_arg(room)
    with connected(config, user, (), "history") as (client, _):
        events = earlier_events(
            client,
            room,
            limit,
            before=None,
            chat_only=not presence,
            scan_limit=None,
            external=True,
        ).events
        me = client.user
    if not events and not as_json:
        # Silence would look like a failure.
        note("history", f"room {room} has no {'events' if presence else 'messages'}", err)
    days = DayMarks()
    for event in events:
        if as_json:
            write_line(out, event_json(event))
            continue
        mark = days.below("", event.ts)
        if mark is not None:
            write_line(out, plain(mark))
        # For people (scripts read --json): a message of several lines as in the
        # chat, each line under the first.
        write_line(out, plain(format_event(event, me=me, multiline=True)))
    return ExitCode.OK


# `run` is re-exported: the command line runs each command's body through it.
__all__ = [
    "default_room",
    "history",
    "messages_to_send",
    "pm",
    "rooms",
    "run",
    "send",
    "send_one",
    "tail",
    "who",
]
