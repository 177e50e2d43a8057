"""The window's status bar and title, as text, from a snapshot of the chat."""

from __future__ import annotations

from zmqchat.client.chat.state import Snapshot


def status_text(snap: Snapshot, endpoint: str, *, ended: bool) -> tuple[str, str]:
    """The status bar's text, and the connection state it shows."""
    state = "disconnected" if ended else snap.connection
    shown = {"reconnecting": "reconnecting…", "connecting": "connecting…"}.get(state, state)
    return f"{snap.user or '?'}  │  {endpoint.removeprefix('tcp://')}  │  {shown}", state


def window_title(snap: Snapshot) -> str:
    """Unread messages elsewhere, then where we are (``(3) #dev — zmqchat``)."""
    unread = sum(c.unread for c in snap.conversations if c.key != snap.viewing)
    where = snap.viewing or "no room"
    return f"{f'({unread}) ' if unread else ''}{where} — zmqchat"


__all__ = ["status_text", "window_title"]
