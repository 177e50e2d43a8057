"""The room messages a conversation has shown, remembered so that an ``edit`` or a
``delete`` that comes later can change the line where it is (a UI with a pane per
conversation), or say which message it changed (a terminal, which can't change what
it printed).

Bounded: the newest :data:`KEPT` messages across rooms, about what the GUI's panes
keep; an edit of a message older than that is shown as a line of its own.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Final

from zmqchat.common.messages import ChatEvent, DeleteEvent, EditEvent

KEPT: Final = 20_000


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """A message as it reads now, and whether its line was a replay of history."""

    event: ChatEvent
    history: bool


class ShownMessages:
    """(room, seq) -> the message last shown for it, newest last."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._messages: collections.OrderedDict[tuple[str, int], Shown] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._messages)

    def remember(self, event: ChatEvent, *, history: bool) -> None:
        key = (event.room, event.seq)
        self._messages[key] = Shown(event, history)
        self._messages.move_to_end(key)
        if len(self._messages) > self._kept:
            self._messages.popitem(last=False)

    def original(self, event: EditEvent | DeleteEvent) -> ChatEvent | None:
        """The message ``event`` changes, as it was shown, if it was."""
        shown = self._messages.get((event.room, event.of))
        return shown.event if shown is not None else None

    def change(self, event: EditEvent | DeleteEvent) -> Shown | None:
        """The message ``event`` changes as it reads now (its new text and
        ``edited``, or ``deleted`` with no text or data left), if it was shown; it
        is remembered so. None for a message not shown, or changed by someone
        other than its sender (the broker allows no such change)."""
        key = (event.room, event.of)
        shown = self._messages.get(key)
        if shown is None or shown.event.sender.lower() != event.sender.lower():
            return None
        if isinstance(event, EditEvent):
            now = dataclasses.replace(shown.event, text=event.text, edited=event.ts)
        else:
            now = dataclasses.replace(shown.event, text="", data=None, edited=None, deleted=True)
        changed = Shown(now, shown.history)
        self._messages[key] = changed
        return changed


__all__ = ["KEPT", "Shown", "ShownMessages"]
