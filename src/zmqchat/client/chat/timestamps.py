"""When each line happened, as a chat shows it: the time of an event (with its date
when not from today, :func:`format_time`), and the line between two events of
different local days that names the day (:func:`day_separator`), placed in each
stream of lines by :class:`DayMarks`.

Pure: no I/O, no UI imports; lines are :data:`~.formatting.Line`'s shape.
"""

from __future__ import annotations

import time

Fragment = tuple[str, str]
Line = list[Fragment]


def format_time(ts: float, now: float | None = None) -> str:
    """``HH:MM:SS`` in local time; with the date in front when not from today."""
    local = time.localtime(ts)
    today = time.localtime(time.time() if now is None else now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def day_separator(prev_ts: float | None, ts: float) -> Line | None:
    """The line between two events of different local days, naming the day of
    ``ts`` (``─── Monday 2026-12-07 ───``); None on the same day, or with no event
    before (``prev_ts`` None)."""
    if prev_ts is None:
        return None
    day = time.localtime(ts)
    if time.localtime(prev_ts)[:3] == day[:3]:
        return None
    return [("class:day", f"─── {time.strftime('%A %Y-%m-%d', day)} ───")]


class DayMarks:
    """Where day separators go in streams of lines (a GUI's conversation each, or
    one scrolling terminal): the times of the oldest and newest event each shows.
    Not thread-safe; the chat controller calls it under its lock."""

    def __init__(self) -> None:
        self._span: dict[str, tuple[float, float]] = {}

    def below(self, stream: str, ts: float) -> Line | None:
        """The separator to show before an event at ``ts`` added at the bottom of
        ``stream``, if any."""
        span = self._span.get(stream)
        self._span[stream] = (ts if span is None else span[0], ts)
        return None if span is None else day_separator(span[1], ts)

    def above(self, stream: str, oldest: float, newest: float) -> Line | None:
        """The separator to show between a block of events from ``oldest`` to
        ``newest`` added at the top of ``stream`` and what it showed, if any."""
        span = self._span.get(stream)
        self._span[stream] = (oldest, newest if span is None else span[1])
        return None if span is None else day_separator(newest, span[0])

    def forget(self, stream: str) -> None:
        """``stream`` starts again from nothing (a conversation shown afresh)."""
        self._span.pop(stream, None)


__all__ = ["DayMarks", "day_separator", "format_time"]
