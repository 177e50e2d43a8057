"""What the chat window shows, without the window: its conversations and their
bounded scrollback (:mod:`.panes`, :mod:`.transcript`), unread counts and where
they start, members, the connection (:mod:`.session`), file transfers (:mod:`.files`).

:class:`ChatViewModel` wraps the shared :class:`ChatController` (the console's, in
its compact form: a pane per conversation). Threads: the client's event thread and
one worker thread (requests block) produce lines; they only put them on a queue.
The Tk thread calls :meth:`ChatViewModel.drain` from ``after()`` and gets the
:class:`Changes` to draw, in bounded batches, so a burst of events never holds the
window for long and no Tk call is ever made from another thread. No tkinter here:
the tests drive it against a real broker without a screen."""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Final

from zmqchat.client.chat.commands import (
    Command,
    Emote,
    GetFile,
    JoinRoom,
    LeaveRoom,
    Quit,
    Say,
    SendFile,
    SendPm,
    parse_input,
    room_name,
)
from zmqchat.client.chat.completion import completion_suffix, completions
from zmqchat.client.chat.controller import EVERYWHERE, ChatController
from zmqchat.client.chat.formatting import Line, error
from zmqchat.client.chat.keys import GUI_KEYS
from zmqchat.client.chat.message_commands import DeleteMessage
from zmqchat.client.chat.state import ChatState, Snapshot, private_key
from zmqchat.client.core.events import Event
from zmqchat.client.gui.attention import Attention
from zmqchat.client.gui.connect_form import ConnectFailed
from zmqchat.client.gui.desktop import DesktopNotifier
from zmqchat.client.gui.files import FileShare
from zmqchat.client.gui.glyphs import GlyphPolicy
from zmqchat.client.gui.input_history import InputHistory
from zmqchat.client.gui.panes import SERVER, Changes, Panes
from zmqchat.client.gui.prefs import LastConnect
from zmqchat.client.gui.session import Session, Step
from zmqchat.client.gui.statusbar import status_text, window_title
from zmqchat.client.gui.transcript import Row, Transcript, to_row
from zmqchat.client.io.sync import Client
from zmqchat.client.io.trust import default_known_brokers
from zmqchat.common.config import ClientConfig
from zmqchat.common.threads import block_stop_signals

log = logging.getLogger("zmqchat.gui")

# Messages of history shown on joining a room, and per page when scrolling back.
BACKLOG: Final = 50
PAGE: Final = 50
# Lines kept per conversation: a chat that runs for weeks keeps a flat footprint.
SCROLLBACK: Final = 10_000


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
        password: str | None = None,
        known_brokers: str | os.PathLike[str] | None = None,
    ) -> None:
        """``policy`` and ``rtl``: what this Tk can draw (see :mod:`.glyphs`);
        ``remember``: called with the settings of a successful connect the user
        confirmed (never the password); ``password``: the one given without asking,
        used when the form's field is left empty; ``known_brokers``: the
        trust-on-first-use file (default: the user's)."""
        self.config = config
        self.policy = policy
        self.rtl = rtl
        self.scrollback = scrollback
        self.page = page
        self.state = ChatState()
        self.controller = ChatController(
            self.state,
            self._emit,
            backlog=backlog,
            on_closed=self._on_closed,
            on_opened=lambda key: self._queue.put(functools.partial(self.panes.reopened, key)),
            compact=True,
            multiline=True,
            keys=GUI_KEYS,
            on_mention=self._mentioned,
            on_replace=self._replaced,
        )
        # Mentions: the window's focus, the title's mark, desktop notifications.
        self.attention = Attention(notify=config.notify)
        self.notifier = DesktopNotifier()
        self.panes = Panes(scrollback)
        self.transcripts = self.panes.transcripts
        self.snapshot: Snapshot = self.state.snapshot()
        self.history = InputHistory()
        self.ended: str | None = None
        self._queue: queue.SimpleQueue[Step] = queue.SimpleQueue()
        # One worker: commands run in the order typed, and requests never block
        # the Tk thread.
        self._worker = concurrent.futures.ThreadPoolExecutor(
            1, "zmqchat-gui", initializer=block_stop_signals
        )
        self.session = Session(
            config,
            self.controller,
            rooms=tuple(rooms or config.rooms),
            worker=self._worker,
            hand_over=self._queue.put,
            remember=remember,
            password=password,
            known_brokers=known_brokers or default_known_brokers(),
        )
        self.files = FileShare(lambda: self.session.client, self._emit)  # attach, save, …

    # ------------------------------------------------------------- connecting

    @property
    def client(self) -> Client | None:
        """The connected client; None before (and if never) connected."""
        return self.session.client

    @property
    def closed(self) -> threading.Event:
        """Set once ``bye`` was said (or given up on) after :meth:`close`."""
        return self.session.closed

    def connect(
        self,
        user: str,
        host: str,
        port: str,
        password: str = "",
        server_key: str = "",
        *,
        confirmed: bool = True,
    ) -> ConnectFailed | None:
        """Start connecting on the worker thread; the outcome comes out of
        :meth:`drain` (``connected`` or ``connect_failed``). A mistake found
        without asking the broker is returned at once. An empty ``password``
        stands for the one given without asking, if any (:attr:`Session.password`); an
        empty ``server_key`` for the configured one, else the one remembered for the broker.
        ``confirmed``: the user saw these settings in the form and chose them, so the
        next run offers them again; settings a program gave (every flag on the
        command line) are not the user's choice and are not remembered."""
        return self.session.connect(user, host, port, password, server_key, confirmed=confirmed)

    # -------------------------------------------------------------- commands

    def submit(self, text: str) -> bool:
        """Run what was typed in the input (several lines are one message); False for
        ``/quit`` (close the window)."""
        text = text.rstrip("\r\n")  # a paste's last line break is no line of the message
        command = parse_input(text)
        if command is None:
            return True
        if isinstance(command, Quit):
            return False
        self.history.add(text)
        if isinstance(command, SendFile | GetFile):
            self.files.typed(command, self.snapshot)  # a progress row, as attach's
        else:
            self._run(command, text)
        return True

    def _run(self, command: Command, typed: str | None = None) -> None:
        def job() -> None:
            ok = self.controller.execute(command)
            if not ok and typed is not None and isinstance(command, Say | Emote | SendPm):
                # The broker refused it: give the text back to the input.
                self._queue.put(functools.partial(self._refused, typed))

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
        self._worker.submit(self.controller.load_private, user)
        return key

    def own_message(self, key: str, seq: int) -> str | None:
        """The latest text of our message ``seq`` in room pane ``key``; None when it
        is not ours (or gone): a menu on its line offers nothing then."""
        if not key.startswith("#"):
            return None
        return self.controller.own_message(key[1:], seq)

    def delete_message(self, key: str, seq: int) -> None:
        """Withdraw our message ``seq`` of room pane ``key`` (its menu's Delete)."""
        self._run(DeleteMessage(seq, room=key[1:]))

    def load_older(self, key: str) -> bool:
        """Fetch the page of history before the oldest line of a room (on reaching
        the top of its scrollback); False when there is nothing to fetch."""
        transcript = self.transcripts.get(key)
        count = transcript.start_paging(self.page) if transcript is not None else None
        if count is None:
            return False

        def job() -> None:
            page = self.controller.load_older(key, count)
            rows = [to_row(line, self.policy, rtl=self.rtl) for line in page.lines]
            self._queue.put(functools.partial(self._older, key, rows, page.more))

        self._worker.submit(job)
        return True

    def complete(self, before_cursor: str) -> tuple[str, list[str]]:
        """Tab: the word to replace and what may replace it, each followed by what
        lets typing carry on (``bob: `` at the start of the line, else a space)."""
        rooms, users = self.controller.completion_words()
        word, candidates = completions(before_cursor, rooms=rooms, users=users)
        suffix = completion_suffix(before_cursor, word)
        return word, [candidate + suffix for candidate in candidates]

    # ----------------------------------------------------------------- closing

    def close(self) -> None:
        """Say ``bye`` (the name is free at once), on a thread of its own; the
        ``closed`` event is set when done."""
        self.session.close()

    # ------------------------------------------------- from the other threads

    def _emit(self, line: Line, where: str | None) -> None:
        # Called on the client's event thread, the worker or a transfer's: the row is
        # built here, off the Tk thread, which then only inserts it. The controller
        # emits a line right after the state took its event in, so the unread count
        # says whether this line is one of those unread.
        row = to_row(line, self.policy, rtl=self.rtl)
        unread = where not in (None, EVERYWHERE) and self.state.unread_in(where) > 0
        self._queue.put(functools.partial(self.panes.shown, row, where, unread))

    def _replaced(self, line: Line, instead: Line, where: str, seq: int) -> None:
        # As _emit: the rows are built here, and the Tk thread only swaps them in.
        row, fallback = (to_row(x, self.policy, rtl=self.rtl) for x in (line, instead))
        self._queue.put(functools.partial(self.panes.replaced, where, seq, row, fallback))

    def _mentioned(self, event: Event, where: str) -> None:
        self._queue.put(functools.partial(self._mention, event))

    def _on_closed(self) -> None:
        # The reason is already a line in every conversation (format_status).
        self._queue.put(functools.partial(self._ended, "disconnected"))

    # --------------------------------------------------------- the Tk thread

    def transcript(self, key: str) -> Transcript:
        return self.panes.transcript(key)

    def drain(self, max_items: int = 2000, budget: float = 0.02) -> Changes:
        """Take in what the other threads produced: at most ``max_items``, for at
        most about ``budget`` seconds, so the caller's loop stays responsive."""
        changes = Changes()
        deadline = time.perf_counter() + budget
        for n in range(max_items):
            if n % 64 == 63 and time.perf_counter() > deadline:
                break
            try:
                step = self._queue.get_nowait()
            except queue.Empty:
                break
            step(changes)
        changes.pending = not self._queue.empty()
        self.panes.trim(changes)
        self._refresh(changes)
        return changes

    def refresh(self) -> Snapshot:
        """Read the shared state again (after a change made on this thread)."""
        self._refresh(Changes())
        return self.snapshot

    def take_markers(self) -> dict[str, int]:
        """The conversations the user came to look at since the last call, each with
        how many of its last rows arrived unread meanwhile: the view marks where
        they start (0: nothing new, no mark)."""
        return self.panes.take_markers()

    # The steps the other threads queue, taken here in the order they were queued.

    def _older(self, key: str, rows: list[Row], more: bool, changes: Changes) -> None:
        self.panes.older(key, rows, more, changes)

    def _mention(self, event: Event, changes: Changes) -> None:
        changes.mentions.append(event)

    def _refused(self, text: str, changes: Changes) -> None:
        changes.restore = text

    def _ended(self, reason: str, changes: Changes) -> None:
        self.ended = changes.ended = reason

    def _refresh(self, changes: Changes) -> None:
        snapshot = self.controller.snapshot()
        if snapshot != self.snapshot:
            self.snapshot = changes.snapshot = snapshot
        self.panes.follow(snapshot, changes)

    # ---------------------------------------------------------------- queries

    def status(self) -> tuple[str, str]:
        """The status bar's text, and the connection state it shows."""
        # The node of the last connection state heard: it is part of the snapshot, so
        # a failover redraws the bar even when its reconnecting and connected states
        # come in one batch (the state alone would look unchanged).
        endpoint = self.snapshot.endpoint or self.session.endpoint
        return status_text(self.snapshot, endpoint, ended=bool(self.ended))

    def title(self) -> str:
        """The window title: mentions missed while the window had no focus, unread
        messages elsewhere, then where we are."""
        return self.attention.title(window_title(self.snapshot))

    def focus(self, focused: bool) -> bool:
        """The window gained or lost the keyboard focus; True when the title changes."""
        return self.attention.focus(focused)

    def attend(self, mentions: list[Event], *, focused: bool) -> None:
        """Mentions the view shows (``Changes.mentions``), and whether the window has
        the focus now: without it, each marks the title, and the first of a burst
        asks the desktop for a notification (see :mod:`.attention`)."""
        self.attention.focus(focused)
        for event in mentions:
            alert = self.attention.mentioned(event)
            if alert is not None:
                self.notifier(*alert)


__all__ = ["BACKLOG", "PAGE", "SCROLLBACK", "SERVER", "Changes", "ChatViewModel"]
