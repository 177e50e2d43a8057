"""The commands about messages already said: ``/edit``, ``/delete`` and ``/search``
(their records and parsing; :mod:`.commands` dispatches to them)."""

from __future__ import annotations

import dataclasses

from zmqchat.common.protocol import MAX_INT


@dataclasses.dataclass(frozen=True, slots=True)
class EditMessage:
    """``/edit [SEQ] TEXT``: our message ``seq`` of the current room (None: our
    last one there) now reads ``text``."""

    seq: int | None
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeleteMessage:
    """``/delete [SEQ]``: withdraw our message ``seq`` (None: our last one) of
    ``room`` (None: the current room; a UI's menu on a line names it)."""

    seq: int | None
    room: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SearchMessages:
    """``/search WORDS``: the messages of our rooms that hold every one of them."""

    words: str


def message_seq(word: str) -> int | None:
    """A message's seq as typed (``42``), or None if ``word`` is not one."""
    if word.isascii() and word.isdigit() and 1 <= int(word) <= MAX_INT:
        return int(word)
    return None


def parse_edit(rest: str) -> EditMessage | None:
    """``[SEQ] TEXT``: a first word that is a number, followed by text, is the
    message's seq (so a correction that starts with a number needs the seq too)."""
    first, _, text = rest.partition(" ")
    seq = message_seq(first)
    if seq is not None and text.strip():
        return EditMessage(seq, text.strip())
    return EditMessage(None, rest) if rest.strip() else None


def parse_delete(args: list[str]) -> DeleteMessage | None:
    if not args:
        return DeleteMessage(None)
    seq = message_seq(args[0]) if len(args) == 1 else None
    return DeleteMessage(seq) if seq is not None else None


__all__ = [
    "DeleteMessage",
    "EditMessage",
    "SearchMessages",
    "message_seq",
    "parse_delete",
    "parse_edit",
]
