"""Every conversation's transcript, kept on the Tk thread, and what changed in them
since the view last drew (:class:`Changes`).

The view-model's steps put rows in here in the order the other threads produced
them; the view draws the changes. It also keeps what a pane marks when the user
comes to look at it: how many of its last rows came in unread meanwhile.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from zmqchat.client.chat.controller import EVERYWHERE
from zmqchat.client.chat.state import Snapshot
from zmqchat.client.core.events import Event
from zmqchat.client.gui.connect_form import ConnectFailed
from zmqchat.client.gui.transcript import Row, Transcript
from zmqchat.common.messages import Welcome

# The transcript of lines that belong to no conversation (none is open).
SERVER: Final = ""


@dataclasses.dataclass(slots=True)
class Changes:
    """What changed since the last :meth:`ChatViewModel.drain`, for the view to draw.

    Apply in this order: ``removed``, ``reset`` (empty the pane), ``prepended``
    (above what is shown, oldest first), ``appended`` (below, oldest first), then
    ``replaced`` (the row showing room message ``seq``, edited or deleted, now
    reads as the row given, where it is).
    """

    appended: dict[str, list[Row]] = dataclasses.field(default_factory=dict)
    replaced: dict[str, list[tuple[int, Row]]] = dataclasses.field(default_factory=dict)
    prepended: dict[str, list[Row]] = dataclasses.field(default_factory=dict)
    reset: set[str] = dataclasses.field(default_factory=set)
    removed: set[str] = dataclasses.field(default_factory=set)
    snapshot: Snapshot | None = None  # set when the sidebar, members or status changed
    restore: str | None = None  # a refused line, to give back to the input
    ended: str | None = None  # the broker ended the session for good: why
    connected: Welcome | None = None
    connect_failed: ConnectFailed | None = None
    pending: bool = False  # more is waiting: drain again soon
    # Events for the user's attention that came (see ChatViewModel.attend).
    mentions: list[Event] = dataclasses.field(default_factory=list)


class Panes:
    """The transcripts by conversation key, with a bounded scrollback each."""

    def __init__(self, scrollback: int) -> None:
        self.scrollback = scrollback
        self.transcripts: dict[str, Transcript] = {}
        self.viewing: str | None = None  # the conversation looked at, as last drawn
        self._markers: dict[str, int] = {}

    def transcript(self, key: str) -> Transcript:
        found = self.transcripts.get(key)
        if found is None:
            found = self.transcripts[key] = Transcript(key, self.scrollback)
        return found

    def targets(self, where: str | None) -> list[str]:
        """The transcripts a line for ``where`` goes to (see ``Emit``)."""
        if where == EVERYWHERE:
            keys = [key for key in self.transcripts if key != SERVER]
            return keys or [SERVER]
        if where is None:
            return [self.viewing or SERVER]
        return [where]

    def shown(self, row: Row, where: str | None, unread: bool, changes: Changes) -> None:
        """A new line; ``unread``: it came while ``where`` had unread messages."""
        for key in self.targets(where):
            looked_at = key == self.viewing
            self.transcript(key).add(row, unread=unread and key == where, looked_at=looked_at)
            changes.appended.setdefault(key, []).append(row)

    def replaced(self, key: str, seq: int, row: Row, instead: Row, changes: Changes) -> None:
        """Room message ``seq`` of ``key`` was edited or deleted: its row now reads
        ``row``, where it is; if the pane no longer holds it (past the scrollback,
        or reopened since), ``instead`` (what changed) comes as a new line."""
        transcript = self.transcripts.get(key)
        if transcript is not None and transcript.replace(seq, row):
            changes.replaced.setdefault(key, []).append((seq, row))
        else:
            self.shown(instead, key, False, changes)

    def reopened(self, key: str, changes: Changes) -> None:
        self.transcript(key).reset()
        changes.reset.add(key)
        changes.appended.pop(key, None)
        changes.prepended.pop(key, None)
        changes.replaced.pop(key, None)

    def older(self, key: str, rows: list[Row], more: bool, changes: Changes) -> None:
        transcript = self.transcripts.get(key)
        if transcript is None:
            return
        rows = transcript.prepend(rows, more)
        if rows:
            changes.prepended[key] = rows + changes.prepended.get(key, [])

    def follow(self, snapshot: Snapshot, changes: Changes) -> None:
        """Keep up with the shared state: the transcripts of conversations left or
        closed go, and one the user comes to look at marks where its unread rows
        start (:meth:`take_markers`)."""
        alive = {c.key for c in snapshot.conversations} | {SERVER}
        for key in [key for key in self.transcripts if key not in alive]:
            del self.transcripts[key]  # left, or closed: its lines go with it
            self._markers.pop(key, None)
            changes.removed.add(key)
            changes.appended.pop(key, None)
            changes.prepended.pop(key, None)
            changes.replaced.pop(key, None)
            changes.reset.discard(key)
        if snapshot.viewing != self.viewing:
            self.viewing = snapshot.viewing
            transcript = self.transcripts.get(snapshot.viewing or SERVER)
            if transcript is not None:
                self._markers[transcript.key] = transcript.take_unseen()

    def take_markers(self) -> dict[str, int]:
        """Conversations the user came to look at since the last call, each with how
        many of its last rows are new to them (0: none, so no mark)."""
        markers, self._markers = self._markers, {}
        return markers

    def trim(self, changes: Changes) -> None:
        """A batch of more rows than a pane keeps: only the last ones would stay."""
        for rows in changes.appended.values():
            if len(rows) > self.scrollback:
                del rows[: len(rows) - self.scrollback]


__all__ = ["SERVER", "Changes", "Panes"]
