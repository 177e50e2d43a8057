"""Help sections built from the tables they describe, so that help cannot fall behind:
the slash commands from :data:`zmqchat.client.chat.commands.COMMANDS`, exit statuses
keyed by :class:`~zmqchat.client.console.exits.ExitCode`."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TypeVar

WIDTH = 80
STATUS_INDENT = " " * 7  # "  143  ": where the text of a status starts

_Status = TypeVar("_Status", bound=int)  # ExitCode, or a plain status


def slash_commands(heading: str, *, after: str = "") -> str:
    """A section listing every slash command, as ``/help`` shows them in a chat; the
    lines of ``after`` follow, indented as the list."""
    from zmqchat.client.chat.commands import help_lines

    lines = [heading, *(f"  {line}" for line in help_lines())]
    lines += textwrap.wrap(after, WIDTH, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(lines) + "\n"


def exit_statuses(rows: Mapping[_Status, str], *, note: str = "") -> str:
    """An ``exit status:`` section, one row per status in numeric order, laid out as
    :func:`~zmqchat.client.console.exits.exit_status_help`'s; ``note`` ends it."""
    lines = ["exit status:"]
    for code in sorted(rows):
        first = f"  {int(code):<4} "
        lines += textwrap.wrap(
            rows[code], WIDTH, initial_indent=first, subsequent_indent=STATUS_INDENT
        )
    lines += textwrap.wrap(
        note, WIDTH, initial_indent=STATUS_INDENT, subsequent_indent=STATUS_INDENT
    )
    return "\n".join(lines) + "\n"


__all__ = ["exit_statuses", "slash_commands"]
