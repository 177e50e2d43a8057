"""Which characters a Tk window can show, decided once, applied to every line.

Tcl/Tk before 8.6.10 stores characters in 16 bits: a character outside the Basic
Multilingual Plane (most emoji, U+1F600...) raises ``TclError`` or is drawn as two
garbage glyphs. On X11, libXft before 2.3.5 cannot draw a colour emoji font (Noto
Color Emoji, installed by most desktops) and the X server then kills the whole
program with ``BadLength (RenderAddGlyphs)``: no exception to catch. So where
either applies, the view shows U+FFFD instead of those characters. And Tk draws
right-to-left text in the order it is given, unshaped, except on macOS: elsewhere
:mod:`.rtl` shapes it here, and the view puts each display line in order once it
knows where the line wraps. Only what is shown changes; what is sent and stored is
the text as typed.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from zmqchat.client.gui.rtl import shape

GlyphPolicy = Literal["all", "bmp", "no-emoji"]

REPLACEMENT: Final = "\ufffd"
_NON_BMP: Final = re.compile("[\U00010000-\U0010ffff]")
# Non-BMP, plus the BMP blocks a colour emoji font also covers (symbols, dingbats,
# arrows and stars) and the emoji variation selector that asks for a colour glyph.
_EMOJI: Final = re.compile("[\U00010000-\U0010ffff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
# libXft gained colour (BGRA) glyphs in 2.3.5; XftGetVersion() reports 20305.
XFT_COLOUR_GLYPHS: Final = 20305


def choose_policy(patchlevel: str, windowing: str, xft_version: int | None) -> GlyphPolicy:
    """The policy for a Tk of ``patchlevel`` (``info patchlevel``) on ``windowing``
    (``tk windowingsystem``) with libXft ``xft_version`` (None: not known)."""
    if _version(patchlevel) < (8, 6, 10):
        return "bmp"
    if windowing == "x11" and (xft_version is None or xft_version < XFT_COLOUR_GLYPHS):
        return "no-emoji"
    return "all"


def _version(patchlevel: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", patchlevel)
    return tuple(int(p) for p in parts[:3]) or (0,)


def reorders_rtl(windowing: str) -> bool:
    """Whether right-to-left text must be put in display order for this Tk: on
    macOS, Core Text does it; elsewhere Tk draws characters in the order given."""
    return windowing != "aqua"


def displayable(text: str, policy: GlyphPolicy, *, rtl: bool = False) -> str:
    """``text`` with what this Tk cannot show replaced by U+FFFD and, with
    ``rtl``, Arabic-script letters in their contextual forms (still in reading
    order: the order on screen depends on where the line wraps, see
    :func:`~.rtl.visual_lines`). One character stays one character."""
    if text.isascii():
        return text
    if rtl:
        text = shape(text)
    if policy == "all":
        return text
    pattern = _NON_BMP if policy == "bmp" else _EMOJI
    return pattern.sub(REPLACEMENT, text)


__all__ = [
    "REPLACEMENT",
    "XFT_COLOUR_GLYPHS",
    "GlyphPolicy",
    "choose_policy",
    "displayable",
    "reorders_rtl",
]
