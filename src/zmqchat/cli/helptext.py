"""Help sections built from the tables they describe, so that help cannot fall behind:
the slash commands from :data:`zmqchat.client.chat.slash_commands.COMMANDS`, and (from
:mod:`zmqchat.client.console.exits`) exit statuses keyed by
:class:`~zmqchat.client.chat.failures.ExitCode`."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from zmqchat.client.console.exits import exit_statuses

WIDTH = 80


def slash_commands(heading: str, *, keys: Sequence[str] = (), after: str = "") -> str:
    """A section listing every slash command and then what the front end's ``keys``
    do, as ``/help`` shows them in its chat; the lines of ``after`` follow, indented
    as the list."""
    from zmqchat.client.chat.slash_commands import help_lines

    lines = [heading, *(f"  {line}" for line in help_lines(keys))]
    lines += textwrap.wrap(after, WIDTH, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(lines) + "\n"


__all__ = ["exit_statuses", "slash_commands"]
