"""The ``search`` request, additive to protocol v1 (docs/protocol.md §2.15), and how
the words asked for become a full-text query (its reply, ``SearchResults``, holds
chat events: it is in :mod:`zmqchat.common.messages`).

A search looks for messages holding every word asked for (in any order, any case),
in the rooms the session is in (or in one of them), newest first, as they read now:
an edited message is found by its latest text, a deleted one no more. With ``with``,
it looks in the session's own private messages with one user instead, the ones
``history`` gives ``with`` that user.
"""

from __future__ import annotations

import re
from typing import Any, Final

from zmqchat.common.protocol import (
    ErrorCode,
    canonical_room,
    check_name,
    check_short_text,
    optional,
)
from zmqchat.common.records import Record, Ref, record
from zmqchat.errors import ProtocolError

SEARCH_DEFAULT_LIMIT: Final = 20
SEARCH_MAX_LIMIT: Final = 100
# The most words a search takes: each is a lookup in the index.
SEARCH_MAX_WORDS: Final = 16
# A word as the index's tokenizer (SQLite FTS5's unicode61) cuts text into them:
# letters and digits; everything else separates words.
_WORD: Final = re.compile(r"\w+")


@record("search", with_user="with")
class Search(Record):
    """Messages holding every one of ``words``, newest first: in ``room``, or in
    every room the session is in; ``external``: also in rooms it could read from
    outside (where a join would be allowed); ``with_user`` (additive, ``with`` on
    the wire): in the private messages with that user instead. ``before``: sent (or
    last edited) before that time, to read on from the last match of a page."""

    words: str
    room: str | None = None
    limit: int = SEARCH_DEFAULT_LIMIT
    before: float | None = None
    external: bool | None = None
    with_user: str | None = None
    ref: Ref = None


def words_of(text: str) -> list[str]:
    """The words of a search, lower-cased and each once, in order."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))


def match_query(words: list[str]) -> str:
    """The FTS5 query finding every one of ``words``: each a quoted string (so no
    word is read as FTS5's syntax), joined by AND."""
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in words)


def parse_search(msg: dict[str, Any], ref: Ref) -> Search:
    text = check_short_text(msg.get("words"), "words")
    words = words_of(text)
    if not words:
        raise ProtocolError(ErrorCode.EMPTY, "'words' holds no word to look for")
    if len(words) > SEARCH_MAX_WORDS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"at most {SEARCH_MAX_WORDS} words in a search")
    room = msg.get("room")
    with_user = msg.get("with")
    if room is not None and with_user is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "search takes 'room' or 'with', not both")
    limit = optional(msg, "limit", int, "an integer")
    if limit is None:
        limit = SEARCH_DEFAULT_LIMIT
    elif isinstance(limit, bool) or not 1 <= limit <= SEARCH_MAX_LIMIT:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'limit' must be 1..{SEARCH_MAX_LIMIT}")
    before = optional(msg, "before", (int, float), "a time in seconds")
    if isinstance(before, bool):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'before' must be a time in seconds")
    external = optional(msg, "external", bool, "true or false")
    return Search(
        words=text,
        room=None if room is None else canonical_room(room),
        limit=limit,
        before=None if before is None else float(before),
        external=True if external else None,
        with_user=None if with_user is None else check_name(with_user, "user name"),
        ref=ref,
    )


__all__ = [
    "SEARCH_DEFAULT_LIMIT",
    "SEARCH_MAX_LIMIT",
    "SEARCH_MAX_WORDS",
    "Search",
    "match_query",
    "parse_search",
    "words_of",
]
