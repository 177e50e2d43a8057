"""Durations as people write and read them (``90s``, ``10m``, ``2h``, ``1d``,
``1w``): a ban's length, typed in a chat or on a command line, and shown in a
line or an error. Pure."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    """Seconds in ``text`` (``30`` and ``30s`` are seconds, ``10m``, ``2h``, ``1d``,
    ``1w``), or None if it is not a duration or is zero."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    return seconds if seconds > 0 else None


def duration_text(seconds: float) -> str:
    """``2h 5m``: the two largest units of a length of time, rounded up to a second."""
    left = int(-(-seconds // 1))
    parts: list[str] = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if left >= size or (unit == "s" and not parts):
            count, left = divmod(left, size)
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    return " ".join(parts)


__all__ = ["duration_text", "parse_duration"]
