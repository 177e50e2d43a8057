"""Fonts of the window, derived from the desktop's, and never deleted by the
garbage collector: ``Font.__del__`` calls Tcl, the collector may run on any
thread (the client's), and a Tcl call from a thread other than Tk's aborts the
process. A few fonts per window, made once: nothing worth reclaiming."""

from __future__ import annotations

from tkinter import font as tkfont


def quiet_font(**options: str | int) -> tkfont.Font:
    """A ``tkinter.font.Font`` that Python never deletes."""
    font = tkfont.Font(**options)  # type: ignore[arg-type]
    font.delete_font = False
    return font


def transcript_fonts() -> dict[str, tkfont.Font]:
    """The conversation's font and the variants its styles ask for by name."""
    base = tkfont.nametofont("TkTextFont").actual()
    family, size = base["family"], max(10, abs(int(base["size"])))
    return {
        "base": quiet_font(family=family, size=size),
        "italic": quiet_font(family=family, size=size, slant="italic"),
        "bold": quiet_font(family=family, size=size, weight="bold"),
        "header": quiet_font(family=family, size=size + 1, weight="bold"),
    }


__all__ = ["quiet_font", "transcript_fonts"]
