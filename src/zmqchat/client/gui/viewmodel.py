"""What the chat window shows, without the window: its conversations and their
bounded scrollback, unread counts, members, the connection, the input history.

:class:`ChatViewModel` wraps the shared :class:`ChatController` (the console's, in
its compact form: a pane per conversation). Threads: the client's event thread and
one worker thread (requests block) produce lines; they only put them on a queue.
The Tk thread calls :meth:`ChatViewModel.drain` from ``after()`` and gets the
:class:`Changes` to draw, in bounded batches, so a burst of events never holds the
window for long and no Tk call is ever made from another thread. Nothing here
imports tkinter: the tests drive it against a real broker without a screen.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from typing import Final

from zmqchat.client.chat.commands import (
    Command,
    Emote,
    JoinRoom,
    LeaveRoom,
    Quit,
    Say,
    SendPm,
    completions,
    parse_input,
    room_name,
)
from zmqchat.client.chat.controller import EVERYWHERE, ChatController
from zmqchat.client.chat.failures import Field, classify
from zmqchat.client.chat.formatting import Line, error
from zmqchat.client.chat.state import ChatState, Snapshot, private_key
from zmqchat.client.gui.glyphs import GlyphPolicy, displayable
from zmqchat.client.gui.prefs import LastConnect
from zmqchat.client.gui.theme import TAGS
from zmqchat.client.io.sync import Client
from zmqchat.common.config import ClientConfig
from zmqchat.common.messages import Welcome
from zmqchat.errors import ZmqchatError

log = logging.getLogger("zmqchat.gui")

# Messages of history shown on joining a room, and per page when scrolling back.
BACKLOG: Final = 50
PAGE: Final = 50
# Lines kept per conversation: a chat that runs for weeks keeps a flat footprint.
SCROLLBACK: Final = 10_000
# The transcript of lines that belong to no conversation (none is open).
SERVER: Final = ""
# A burst must not become an unbounded backlog of events inside the client.
CLIENT_EVENT_QUEUE: Final = 100_000

Part = tuple[str, tuple[str, ...]]  # (text, Tk tag names)
_HOST: Final = re.compile(r"^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$")


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One line of a conversation, ready for a Tk Text: each part's text with the
    tags (style classes) it is drawn with."""

    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    def has_tag(self, tag: str) -> bool:
        return any(tag in tags for _, tags in self.parts)


def to_row(line: Line, policy: GlyphPolicy, *, rtl: bool = False) -> Row:
    """A formatted line (``class:`` styles) as a row (tag names), with what this
    Tk cannot draw replaced.

    Only styles the theme draws become tags, and neighbours with the same tags
    are joined: Tk's insert costs about as much per tagged part as per line, so
    a row of three parts inserts twice as fast as one of eight."""
    parts: list[Part] = []
    for style, text in line:
        tags = tuple(t for t in (n.removeprefix("class:") for n in style.split()) if t in TAGS)
        if parts and parts[-1][1] == tags:
            parts[-1] = (parts[-1][0] + text, tags)
        else:
            parts.append((text, tags))
    return Row(tuple((displayable(text, policy, rtl=rtl), tags) for text, tags in parts))


class Transcript:
    """The lines of one conversation: the last ``limit`` of them, and whether older
    ones can be fetched from history."""

    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.rows: collections.deque[Row] = collections.deque(maxlen=limit)
        self.more = key.startswith("#")  # only rooms page back through history
        self.paging = False

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.limit


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectFailed:
    """Why connecting failed, and the field of the form it is about (None: no
    field in particular)."""

    field: Field
    message: str


@dataclasses.dataclass(slots=True)
class Changes:
    """What changed since the last :meth:`ChatViewModel.drain`, for the view to draw.

    Apply in this order: ``removed``, ``reset`` (empty the pane), ``prepended``
    (above what is shown, oldest first), ``appended`` (below, oldest first).
    """

    appended: dict[str, list[Row]] = dataclasses.field(default_factory=dict)
    prepended: dict[str, list[Row]] = dataclasses.field(default_factory=dict)
    reset: set[str] = dataclasses.field(default_factory=set)
    removed: set[str] = dataclasses.field(default_factory=set)
    snapshot: Snapshot | None = None  # set when the sidebar, members or status changed
    restore: str | None = None  # a refused line, to give back to the input
    ended: str | None = None  # the broker ended the session for good: why
    connected: Welcome | None = None
    connect_failed: ConnectFailed | None = None
    pending: bool = False  # more is waiting: drain again soon


class InputHistory:
    """What was sent from the input line, for Up and Down, as in a shell."""

    def __init__(self, limit: int = 500) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=limit)
        self._position: int | None = None  # None: editing a new line
        self._draft = ""

    def add(self, text: str) -> None:
        if not self._lines or self._lines[-1] != text:
            self._lines.append(text)
        self._position = None

    def older(self, current: str) -> str | None:
        """The line sent before the one shown (None: there is none)."""
        if self._position is None:
            self._draft, self._position = current, len(self._lines)
        if self._position == 0:
            return None
        self._position -= 1
        return self._lines[self._position]

    def newer(self) -> str | None:
        """The line sent after the one shown, then what was being typed."""
        if self._position is None:
            return None
        self._position += 1
        if self._position >= len(self._lines):
            self._position = None
            return self._draft
        return self._lines[self._position]


# Queue items, from the client's and the worker's threads to the Tk thread.
@dataclasses.dataclass(frozen=True, slots=True)
class _Shown:
    row: Row
    where: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Opened:
    key: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Older:
    key: str
    rows: list[Row]
    more: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _Refused:
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Ended:
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Connected:
    welcome: Welcome


_Item = _Shown | _Opened | _Older | _Refused | _Ended | _Connected | ConnectFailed


def parse_port(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        return None
    return int(text)


class ChatViewModel:
    """One chat session as a window shows it."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        rooms: tuple[str, ...] | None = None,
        policy: GlyphPolicy = "all",
        rtl: bool = False,
        backlog: int = BACKLOG,
        scrollback: int = SCROLLBACK,
        page: int = PAGE,
        remember: Callable[[LastConnect], None] | None = None,
    ) -> None:
        """``policy`` and ``rtl``: what this Tk can draw (see :mod:`.glyphs`);
        ``remember``: called with the settings of a successful connect."""
        self.config = config
        self.rooms = tuple(rooms or config.rooms)
        self.policy = policy
        self.rtl = rtl
        self.scrollback = scrollback
        self.page = page
        self._remember = remember
        self.state = ChatState()
        self.controller = ChatController(
            self.state,
            self._emit,
            backlog=backlog,
            on_closed=self._on_closed,
            on_opened=lambda key: self._queue.put(_Opened(key)),
            compact=True,
        )
        self.transcripts: dict[str, Transcript] = {}
        self.snapshot: Snapshot = self.state.snapshot()
        self.history = InputHistory()
        self.client: Client | None = None
        self.endpoint = config.endpoint
        self.connecting = False
        self.ended: str | None = None
        self.closed = threading.Event()  # set once bye was said (or given up on)
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        # One worker: commands run in the order typed, and requests never block
        # the Tk thread.
        self._worker = concurrent.futures.ThreadPoolExecutor(1, "zmqchat-gui")
        self._lock = threading.Lock()  # hands the client over between connect and close
        self._closing = False

    # ------------------------------------------------------------- connecting

    def connect(self, user: str, host: str, port: str) -> ConnectFailed | None:
        """Start connecting on the worker thread; the outcome comes out of
        :meth:`drain` (``connected`` or ``connect_failed``). A mistake found
        without asking the broker is returned at once."""
        user, host = user.strip(), host.strip()
        if not user:
            return ConnectFailed("user", "type the name to chat as")
        if not _HOST.match(host):
            return ConnectFailed("host", "a host name or IP address, such as 127.0.0.1")
        number = parse_port(port)
        if number is None:
            return ConnectFailed("port", "a port number from 1 to 65535, such as 5555")
        if self.connecting or self.client is not None:
            raise RuntimeError("already connecting or connected")
        self.connecting = True
        self._worker.submit(self._connect, user, host, number)
        return None

    def _connect(self, user: str, host: str, port: int) -> None:
        endpoint = f"tcp://{host}:{port}"
        self.controller.prepare(user, self.rooms)
        client = Client(
            user,
            endpoint,
            rooms=self.rooms,
            client_name="zmqchat gui",
            connect_timeout=self.config.connect_timeout,
            max_events=CLIENT_EVENT_QUEUE,
            on_event=self.controller.on_event,
        )
        try:
            welcome = client.connect()
        except ZmqchatError as exc:
            self.controller.prepare("", ())  # the name was not taken up
            wait = self.config.connect_timeout
            failure = classify(exc, endpoint=endpoint, connect_timeout=wait)
            self._queue.put(ConnectFailed(failure.field, failure.display))
            return
        with self._lock:
            if self._closing:  # the window was closed while connecting
                client.close(1.0)
                return
            self.client, self.endpoint = client, endpoint
        if self._remember is not None:
            self._remember(LastConnect(welcome.user, host, port))
        self._queue.put(_Connected(welcome))
        # On the worker, so that lines typed meanwhile run after the rooms are shown.
        self.controller.attach(client, welcome)

    # -------------------------------------------------------------- commands

    def submit(self, text: str) -> bool:
        """Run a line typed in the input; False for ``/quit`` (close the window)."""
        command = parse_input(text)
        if command is None:
            return True
        if isinstance(command, Quit):
            return False
        self.history.add(text)
        self._run(command, text)
        return True

    def _run(self, command: Command, typed: str | None = None) -> None:
        def job() -> None:
            ok = self.controller.execute(command)
            if not ok and typed is not None and isinstance(command, Say | Emote | SendPm):
                self._queue.put(_Refused(typed))  # the broker refused it: keep the text

        self._worker.submit(job)

    def join(self, text: str) -> None:
        """Join the room typed in the sidebar's field (``dev`` or ``#dev``)."""
        room = room_name(text.strip())
        if room is None:
            problem = f"{text.strip()!r} is not a room name: use 1-32 letters, digits, _ or -"
            self._emit(error(problem), None)
            return
        self._run(JoinRoom(room))

    def leave(self, key: str) -> None:
        """Leave a room, or close a private conversation."""
        if key.startswith("#"):
            self._run(LeaveRoom(key[1:]))
        elif key.startswith("@"):
            self.controller.close_private(key)
            self.refresh()

    def select(self, key: str) -> bool:
        """Look at conversation ``key``: plain lines go there, its unread count
        clears."""
        ok = self.controller.view(key)
        self.refresh()
        return ok

    def open_private(self, user: str) -> str | None:
        """Open (and look at) the private conversation with ``user``; its key, or
        None for ourselves."""
        if user.lower() == self.state.user.lower():
            return None
        self.controller.talk_to(user)
        key = private_key(user)
        self.transcript(key)
        self.refresh()
        return key

    def load_older(self, key: str) -> bool:
        """Fetch the page of history before the oldest line of a room (on reaching
        the top of its scrollback); False when there is nothing to fetch."""
        transcript = self.transcripts.get(key)
        if transcript is None or not transcript.more or transcript.paging:
            return False
        if transcript.full:
            transcript.more = False  # the scrollback is bounded: no further back
            return False
        transcript.paging = True
        count = min(self.page, transcript.limit - len(transcript.rows))

        def job() -> None:
            page = self.controller.load_older(key, count)
            rows = [to_row(line, self.policy, rtl=self.rtl) for line in page.lines]
            self._queue.put(_Older(key, rows, page.more))

        self._worker.submit(job)
        return True

    def complete(self, before_cursor: str) -> tuple[str, list[str]]:
        """Tab: the word to replace and what may replace it."""
        rooms, users = self.controller.completion_words()
        return completions(before_cursor, rooms=rooms, users=users)

    # ----------------------------------------------------------------- closing

    def close(self) -> None:
        """Say ``bye`` (the name is free at once), on a thread of its own; the
        ``closed`` event is set when done."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            client = self.client
        self.controller.quitting()

        def bye() -> None:
            try:
                if client is not None:
                    client.close(1.0)
            finally:
                self._worker.shutdown(wait=False, cancel_futures=True)
                self.closed.set()

        threading.Thread(target=bye, name="zmqchat-gui-bye", daemon=True).start()

    # ------------------------------------------------- from the other threads

    def _emit(self, line: Line, where: str | None) -> None:
        # Called on the client's event thread or the worker: the row is built here,
        # off the Tk thread, which then only inserts it.
        self._queue.put(_Shown(to_row(line, self.policy, rtl=self.rtl), where))

    def _on_closed(self) -> None:
        # The reason is already a line in every conversation (format_status).
        self._queue.put(_Ended("disconnected"))

    # --------------------------------------------------------- the Tk thread

    def transcript(self, key: str) -> Transcript:
        found = self.transcripts.get(key)
        if found is None:
            found = self.transcripts[key] = Transcript(key, self.scrollback)
        return found

    def drain(self, max_items: int = 2000, budget: float = 0.02) -> Changes:
        """Take in what the other threads produced: at most ``max_items``, for at
        most about ``budget`` seconds, so the caller's loop stays responsive."""
        changes = Changes()
        deadline = time.perf_counter() + budget
        for n in range(max_items):
            if n % 64 == 63 and time.perf_counter() > deadline:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._take(item, changes)
        changes.pending = not self._queue.empty()
        for rows in changes.appended.values():
            if len(rows) > self.scrollback:  # only the last ones would stay anyway
                del rows[: len(rows) - self.scrollback]
        self._refresh(changes)
        return changes

    def refresh(self) -> Snapshot:
        """Read the shared state again (after a change made on this thread)."""
        changes = Changes()
        self._refresh(changes)
        return self.snapshot

    def _take(self, item: _Item, changes: Changes) -> None:
        if isinstance(item, _Shown):
            for key in self._targets(item.where):
                self.transcript(key).rows.append(item.row)
                changes.appended.setdefault(key, []).append(item.row)
        elif isinstance(item, _Opened):
            transcript = self.transcript(item.key)
            transcript.rows.clear()
            transcript.more, transcript.paging = True, False
            changes.reset.add(item.key)
            changes.appended.pop(item.key, None)
            changes.prepended.pop(item.key, None)
        elif isinstance(item, _Older):
            self._take_older(item, changes)
        elif isinstance(item, _Refused):
            changes.restore = item.text
        elif isinstance(item, _Ended):
            self.ended = changes.ended = item.reason
        elif isinstance(item, _Connected):
            self.connecting = False
            changes.connected = item.welcome
        else:
            self.connecting = False
            changes.connect_failed = item

    def _take_older(self, item: _Older, changes: Changes) -> None:
        transcript = self.transcripts.get(item.key)
        if transcript is None:
            return
        transcript.paging = False
        transcript.more = item.more
        rows = item.rows
        room = transcript.limit - len(transcript.rows)
        if len(rows) > room:  # keep the newest: they join up with what is shown
            rows = rows[len(rows) - room :] if room > 0 else []
            transcript.more = False
        transcript.rows.extendleft(reversed(rows))
        if rows:
            changes.prepended[item.key] = rows + changes.prepended.get(item.key, [])

    def _targets(self, where: str | None) -> list[str]:
        if where == EVERYWHERE:
            keys = [key for key in self.transcripts if key != SERVER]
            return keys or [SERVER]
        if where is None:
            return [self.snapshot.viewing or SERVER]
        return [where]

    def _refresh(self, changes: Changes) -> None:
        snapshot = self.controller.snapshot()
        if snapshot != self.snapshot:
            self.snapshot = changes.snapshot = snapshot
        alive = {c.key for c in snapshot.conversations} | {SERVER}
        for key in [key for key in self.transcripts if key not in alive]:
            del self.transcripts[key]  # left, or closed: its lines go with it
            changes.removed.add(key)
            changes.appended.pop(key, None)
            changes.prepended.pop(key, None)
            changes.reset.discard(key)

    # ---------------------------------------------------------------- queries

    def status(self) -> tuple[str, str]:
        """The status bar's text, and the connection state it shows."""
        snap = self.snapshot
        state = "disconnected" if self.ended else snap.connection
        shown = {"reconnecting": "reconnecting…", "connecting": "connecting…"}.get(state, state)
        endpoint = self.endpoint.removeprefix("tcp://")
        return f"{snap.user or '?'}  │  {endpoint}  │  {shown}", state

    def title(self) -> str:
        """The window title: unread messages elsewhere, then where we are."""
        snap = self.snapshot
        unread = sum(c.unread for c in snap.conversations if c.key != snap.viewing)
        where = snap.viewing or "no room"
        return f"{f'({unread}) ' if unread else ''}{where} — zmqchat"


__all__ = [
    "BACKLOG",
    "PAGE",
    "SCROLLBACK",
    "SERVER",
    "Changes",
    "ChatViewModel",
    "ConnectFailed",
    "Field",
    "InputHistory",
    "Row",
    "Transcript",
    "parse_port",
    "to_row",
]
