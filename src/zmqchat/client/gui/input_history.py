"""What was sent from the input line, for Up and Down."""

from __future__ import annotations

import collections


class InputHistory:
    """The lines sent, oldest first, walked back and forth as in a shell."""

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
