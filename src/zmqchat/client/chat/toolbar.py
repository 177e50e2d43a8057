"""The console's status bar: who you are, where your lines go, what came unread
elsewhere (and how much of it names you), and the connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from zmqchat.client.chat.formatting import Line, safe_text
from zmqchat.client.chat.state import ChatState, private_key, room_key

# The most of a topic a toolbar shows; the rest is cut with an ellipsis.
TOOLBAR_TOPIC_CHARS: Final = 60


def format_toolbar(
    user: str,
    room: str | None,
    unread: Mapping[str, int],
    connection: str,
    *,
    query: str | None = None,
    topic: str = "",
    mentions: Mapping[str, int] | None = None,
) -> Line:
    """The status bar: who you are, where your lines go (``#room`` with its topic,
    or ``@user`` during a query), the conversations elsewhere with lines that name
    you (``#ops 2@``: ``mentions``, by conversation key), unread counts elsewhere
    (``unread``: by room name, or by key for a private conversation), and the
    connection (``connected`` / ``reconnecting…``)."""
    sep = ("class:toolbar.sep", " │ ")
    line: Line = [("class:toolbar.user", f" {user or '?'}"), sep]
    where = f"@{query}" if query else f"#{room}" if room else "no room"
    line.append(("class:toolbar.room", where))
    if topic and not query:
        shown = safe_text(topic)
        if len(shown) > TOOLBAR_TOPIC_CHARS:
            shown = shown[: TOOLBAR_TOPIC_CHARS - 1] + "…"
        line += [("", " "), ("class:toolbar.topic", shown)]
    named = {key: count for key, count in (mentions or {}).items() if count}
    if named:
        # First and apart: what is for you is what to go and read.
        counts = ", ".join(f"{key} {count}@" for key, count in sorted(named.items()))
        line += [sep, ("class:toolbar.mention", counts)]
    if unread:
        counts = ", ".join(
            f"{_key(name)} {count}" for name, count in sorted(unread.items(), key=_order)
        )
        line += [sep, ("class:toolbar.unread", f"unread: {counts}")]
    shown = {"reconnecting": "reconnecting…", "connecting": "connecting…"}.get(
        connection, connection
    )
    line += [sep, (f"class:toolbar.state.{connection}", shown), ("", " ")]
    return line


def state_toolbar(state: ChatState) -> Line:
    """The toolbar of ``state`` now (call it under the state's lock). Counts are of
    the conversations not looked at: looking at one clears them (``ChatState``)."""
    viewing = state.viewing()
    unread: dict[str, int] = state.unread()
    mentions: dict[str, int] = {}
    for room, room_view in state.rooms.items():
        if room_view.mentions and room_key(room) != viewing:
            mentions[room_key(room)] = room_view.mentions
    for key, view in state.privates.items():
        if private_key(key) == viewing:
            continue
        if view.unread:
            unread[f"@{view.name}"] = view.unread
        if view.mentions:
            mentions[f"@{view.name}"] = view.mentions
    return format_toolbar(
        state.user,
        state.current,
        unread,
        state.connection,
        query=state.query,
        topic=state.topic(state.current),
        mentions=mentions,
    )


def _key(name: str) -> str:
    return name if name.startswith("@") else f"#{name}"


def _order(item: tuple[str, int]) -> tuple[bool, str]:
    return item[0].startswith("@"), item[0]  # rooms first, then private ones


__all__ = ["TOOLBAR_TOPIC_CHARS", "format_toolbar", "state_toolbar"]
