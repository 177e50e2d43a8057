"""Right-to-left text for a Tk that draws characters one by one, left to right.

Tk 8.6 on X11 neither reorders (Unicode bidi) nor shapes (Arabic letters take a
different form at the start, middle or end of a word), so Persian came out
backwards, every letter in its isolated form. :func:`shape` picks each letter's
contextual form from Unicode's Arabic Presentation Forms (derived from
``unicodedata``, no table to maintain); :func:`visual` then reverses each
right-to-left run (numbers inside it keep their order; brackets are mirrored). The
lines are left-to-right paragraphs (they start with the time and the sender), so
this is the Unicode algorithm's answer for them. A line that wraps is reordered one
display line at a time (:func:`visual_lines`), as the algorithm does after breaking
lines: the view breaks it (:mod:`.tk_bidi`). Only what is shown changes; what is
sent and stored is the text as typed.

Not handled: the lam-alef ligature (the two letters stay side by side) and
explicit direction marks; both still read correctly, if less elegantly.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, TypeVar

_FORM_RANGES: Final = (range(0xFB50, 0xFE00), range(0xFE70, 0xFF00))
_MIRROR: Final = str.maketrans("()[]{}<>«»", ")(][}{><»«")
_OPENING: Final = "([{<«"
_CLOSING: Final = ")]}>»"


def _forms() -> dict[str, dict[str, str]]:
    """letter -> {"isolated"|"initial"|"medial"|"final": presentation form}."""
    forms: dict[str, dict[str, str]] = {}
    for block in _FORM_RANGES:
        for code in block:
            kind, _, base = unicodedata.decomposition(chr(code)).partition(" ")
            if kind in ("<isolated>", "<initial>", "<medial>", "<final>") and " " not in base:
                letter = chr(int(base, 16))
                forms.setdefault(letter, {}).setdefault(kind[1:-1], chr(code))
    return forms


_FORMS: Final = _forms()
_TATWEEL: Final = "\u0640"


def _joins_next(char: str) -> bool:
    """The letter connects to the one after it (dual-joining)."""
    forms = _FORMS.get(char)
    return char == _TATWEEL or (forms is not None and ("initial" in forms or "medial" in forms))


def _joins_previous(char: str) -> bool:
    """The letter connects to the one before it (dual- or right-joining)."""
    forms = _FORMS.get(char)
    return char == _TATWEEL or (forms is not None and "final" in forms)


def shape(text: str) -> str:
    """Arabic-script letters in their contextual presentation forms."""
    if not any(char in _FORMS for char in text):
        return text
    out = list(text)
    # Neighbours are the nearest characters that are not marks (harakat sit on a
    # letter and do not break a join).
    solid = [i for i, char in enumerate(text) if unicodedata.category(char) != "Mn"]
    for k, index in enumerate(solid):
        char = text[index]
        forms = _FORMS.get(char)
        if forms is None:
            continue
        before = text[solid[k - 1]] if k > 0 else ""
        after = text[solid[k + 1]] if k + 1 < len(solid) else ""
        joined_before = bool(before) and _joins_next(before) and _joins_previous(char)
        joined_after = bool(after) and _joins_next(char) and _joins_previous(after)
        if joined_before and joined_after:
            kind = "medial"
        elif joined_before:
            kind = "final"
        elif joined_after:
            kind = "initial"
        else:
            kind = "isolated"
        out[index] = forms.get(kind) or forms.get("isolated") or char
    return "".join(out)


def _strong_rtl(char: str) -> bool:
    return unicodedata.bidirectional(char) in ("R", "AL")


def _strong_ltr(char: str) -> bool:
    return unicodedata.bidirectional(char) == "L"


def has_rtl(text: str) -> bool:
    """Whether ``text`` holds a right-to-left letter (Arabic, Persian, Hebrew, ...)."""
    return not text.isascii() and any(_strong_rtl(char) for char in text)


def _runs(text: str, start: int, stop: int) -> Iterator[tuple[bool, int, int]]:
    """``(is_rtl, start, end)`` over ``text[start:stop]``: the right-to-left runs
    (from a strong RTL character to the last one before a strong LTR character) and
    what lies between them."""
    while start < stop:
        first = next((i for i in range(start, stop) if _strong_rtl(text[i])), None)
        if first is None:
            yield False, start, stop
            return
        if first > start:
            yield False, start, first
        end = first
        opened = 0  # brackets opened in the run and not closed yet
        for index in range(first, stop):
            char = text[index]
            if _strong_ltr(char):
                break
            if char in _OPENING:
                opened += 1
            # Numbers after right-to-left letters read with them (rules W2 and N1
            # of the algorithm), and so does the bracket closing one opened here.
            if (
                _strong_rtl(char)
                or unicodedata.bidirectional(char) in ("EN", "AN")
                or (char in _CLOSING and opened > 0)
            ):
                end = index
            if char in _CLOSING and opened > 0:
                opened -= 1
        yield True, first, end + 1
        start = end + 1


def _reversed_run(text: str, start: int, end: int) -> list[int]:
    """The indices of a right-to-left run in display order: reversed, with numbers
    kept in their own order."""
    pieces: list[list[int]] = []
    number: list[int] = []
    for index in range(start, end):
        char = text[index]
        if unicodedata.bidirectional(char) in ("EN", "AN") or (
            number and char in ".,:" and unicodedata.bidirectional(char) in ("CS", "ES")
        ):
            number.append(index)
            continue
        if number:
            pieces.append(number)
            number = []
        pieces.append([index])
    if number:
        pieces.append(number)
    return [index for piece in reversed(pieces) for index in piece]


def _display(text: str, start: int, stop: int) -> list[tuple[int, str]]:
    """``text[start:stop]`` (shaped) as one left-to-right line to draw: each
    character's index in ``text`` and the glyph shown for it (a bracket in a
    right-to-left run is mirrored)."""
    out: list[tuple[int, str]] = []
    for rtl, begin, end in _runs(text, start, stop):
        if rtl:
            out += [(i, text[i].translate(_MIRROR)) for i in _reversed_run(text, begin, end)]
        else:
            out += [(i, text[i]) for i in range(begin, end)]
    return out


def visual(text: str) -> str:
    """``text`` as a left-to-right line to draw character by character."""
    if not has_rtl(text):
        return text
    shaped = shape(text)
    return "".join(glyph for _, glyph in _display(shaped, 0, len(shaped)))


_T = TypeVar("_T")


def visual_lines(parts: Sequence[tuple[str, _T]], breaks: Iterable[int]) -> list[tuple[str, _T]]:
    """One line of text in ``parts`` (``(text, style)``, in reading order) put in
    display order *per display line*: ``breaks`` are the offsets where the screen
    wraps it. The Unicode algorithm reorders each display line on its own, after
    the line is broken (rule L1 onwards): reversing the whole line and letting it
    wrap puts a long right-to-left sentence's end on the first line and its
    start on the last. Each character keeps its style."""
    text = shape("".join(chunk for chunk, _ in parts))
    styles = [style for chunk, style in parts for _ in chunk]
    bounds = [0, *(b for b in sorted(set(breaks)) if 0 < b < len(text)), len(text)]
    out: list[tuple[str, _T]] = []
    for start, stop in itertools.pairwise(bounds):
        for index, glyph in _display(text, start, stop):
            style = styles[index]
            if out and out[-1][1] == style:
                out[-1] = (out[-1][0] + glyph, style)
            else:
                out.append((glyph, style))
    return out


__all__ = ["has_rtl", "shape", "visual", "visual_lines"]
