"""Whether a line names you, and where: the one rule every front end and
``zmqchat tail --mentions`` use.

A line mentions ``alice`` when it holds ``alice`` (any case; ``@alice`` too) as a
word of its own: ``hi alice!``, ``@Alice:``, ``alice's`` and ``سلام alice`` do,
``malice``, ``alice_bot``, ``alice-bob`` and ``aliceé`` don't. A name is made of
``[A-Za-z0-9_-]``, so a letter (of any script), a digit, a combining mark or ``_``
next to it makes it part of a longer word, and so does a ``-`` that joins it to
such a character (``bob-alice``, ``alice-2``: other names). A ``-`` that joins
nothing (``alice- wait``, ``--alice``) is punctuation. Bidirectional controls and
other invisible formatting characters around a name are not letters: a name
isolated in right-to-left text still counts.

Which events count (:func:`is_mention`): a room's chat line (an ``/me`` action too)
that names you, from someone else; and a private message to you, from someone
else, since every line of a private conversation is for you. Your own lines never
do. A private message is counted and notified, but not highlighted: in a
conversation of two there is nothing to pick out.

Pure: no I/O, no UI. Matching is ASCII-case-insensitive only, as names are: the
Kelvin sign does not stand for ``k``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from zmqchat.client.core.events import Event
from zmqchat.common.messages import ChatEvent, PmEvent

Fragment = tuple[str, str]
Span = tuple[int, int]

# The style of the name where a line mentions you, and the style added to every
# fragment of such a line (a front end draws the two as it likes).
MENTION: Final = "class:mention"
MENTIONED: Final = "class:mentioned"


@lru_cache(maxsize=64)
def _pattern(user: str) -> re.Pattern[str]:
    return re.compile(re.escape(user), re.IGNORECASE | re.ASCII)


def _wordy(char: str) -> bool:
    """A character that belongs to a word: a letter, digit or mark of any script, or
    the ``_`` of names."""
    return char == "_" or unicodedata.category(char)[0] in "LNM"


def _joined(text: str, index: int, step: int) -> bool:
    """Whether the character at ``index`` (beside a match, on the side ``step``
    points to) makes the match part of a longer word."""
    if not 0 <= index < len(text):
        return False
    char = text[index]
    if _wordy(char):
        return True
    after = index + step
    return char == "-" and 0 <= after < len(text) and _wordy(text[after])


def mention_spans(text: str, user: str) -> list[Span]:
    """Where ``text`` names ``user``: ``(start, end)`` of each occurrence, in order
    (an ``@`` before it is not part of the span)."""
    if not user:
        return []
    spans: list[Span] = []
    pattern = _pattern(user)
    position = 0
    while (match := pattern.search(text, position)) is not None:
        start, end = match.span()
        if not _joined(text, start - 1, -1) and not _joined(text, end, 1):
            spans.append((start, end))
            position = end
        else:
            position = start + 1
    return spans


def mentions(text: str, user: str) -> bool:
    """Whether ``text`` names ``user`` as a word (see the module's rules)."""
    return bool(mention_spans(text, user))


def is_mention(event: Event, user: str) -> bool:
    """Whether ``event`` is for ``user``'s attention: a chat line naming them, or a
    private message to them, from someone else."""
    if not user:
        return False
    if isinstance(event, ChatEvent):
        return event.sender.lower() != user.lower() and mentions(event.text, user)
    if isinstance(event, PmEvent):
        me = user.lower()
        return event.sender.lower() != me and event.to.lower() == me
    return False


def mark_mentions(fragments: Sequence[Fragment], user: str) -> list[Fragment]:
    """``fragments`` with each occurrence of ``user`` in their text split off and
    styled :data:`MENTION` as well. A mention never spans two fragments: the
    fragments given are the pieces of one message's text."""
    out: list[Fragment] = []
    for style, text in fragments:
        position = 0
        for start, end in mention_spans(text, user):
            if start > position:
                out.append((style, text[position:start]))
            out.append((f"{style} {MENTION}" if style else MENTION, text[start:end]))
            position = end
        if position < len(text) or not text:
            out.append((style, text[position:]))
    return out


def mark_line(line: Sequence[Fragment]) -> list[Fragment]:
    """Every fragment of ``line`` styled :data:`MENTIONED` as well: the whole line
    stands out."""
    return [(f"{style} {MENTIONED}" if style else MENTIONED, text) for style, text in line]


__all__ = [
    "MENTION",
    "MENTIONED",
    "is_mention",
    "mark_line",
    "mark_mentions",
    "mention_spans",
    "mentions",
]
