"""What Tab proposes in a chat line: a command's name after ``/``, a user after ``@``,
a room or a user as a command's first argument, and a name anywhere else.

Pure (no client, no UI), so the console and the GUI complete alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from zmqchat.client.chat.slash_commands import BY_NAME


def completions(
    before_cursor: str, *, rooms: Iterable[str], users: Iterable[str]
) -> tuple[str, list[str]]:
    """What Tab may put in place of the word before the cursor.

    Returns ``(word, candidates)``: the partial word being completed (to be replaced)
    and the full words that could replace it, matched case-insensitively.
    """
    if before_cursor.startswith("/") and " " not in before_cursor:
        names = sorted({f"/{alias}" for alias in BY_NAME})
        return before_cursor, _matching(before_cursor, names)
    if before_cursor.startswith("@") and " " not in before_cursor:
        return before_cursor, _matching(before_cursor, [f"@{u}" for u in users])
    word = before_cursor.rsplit(" ", 1)[-1]
    first, _, rest = before_cursor.partition(" ")
    if first.startswith("/") and " " not in rest:
        spec = BY_NAME.get(first[1:].lower())
        kind = spec.arg if spec else None
        if kind == "room":
            prefix = "#" if word.startswith("#") else ""
            return word, _matching(word, [f"{prefix}{r}" for r in rooms])
        if kind == "user":
            return word, _matching(word, list(users))
        if kind == "count":
            return word, []
    # Anywhere else in a line: a name, as IRC clients complete nicks.
    return word, _matching(word, list(users)) if word else []


def completion_suffix(before_cursor: str, word: str) -> str:
    """What follows a completed word, so that typing carries on: ``": "`` after a
    name that starts the line (IRC's way to address someone: ``bob: hi``), a space
    after anything else (``/join ``, ``@bob ``, a name inside a sentence)."""
    starts_line = before_cursor == word
    return ": " if starts_line and word and word[0] not in "/@" else " "


def _matching(prefix: str, words: Iterable[str]) -> list[str]:
    low = prefix.lower()
    return sorted({w for w in words if w.lower().startswith(low)}, key=str.lower)


__all__ = ["completion_suffix", "completions"]
