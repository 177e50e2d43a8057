"""Arguments given on the command line, checked before connecting: a mistake is a
usage error (exit status 2) that names what to type instead."""

from __future__ import annotations

import json
from typing import Any

from zmqchat.client.chat.commands import room_name
from zmqchat.client.chat.failures import ExitCode, ScriptError


def room_arg(raw: str) -> str:
    """A room as given on the command line (``dev``, ``#Dev``), canonical; a usage
    error when it is no valid room name."""
    room = room_name(raw)
    if room is None:
        raise ScriptError(
            ExitCode.USAGE, f"{raw!r} is not a room name: use 1-32 letters, digits, '_' or '-'"
        )
    return room


def parse_data(raw: str | None) -> dict[str, Any] | None:
    """The ``--data`` argument: a JSON object, or a usage error."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ScriptError(ExitCode.USAGE, f"--data is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScriptError(ExitCode.USAGE, "--data must be a JSON object, like '{\"ok\": true}'")
    return data


__all__ = ["parse_data", "room_arg"]
