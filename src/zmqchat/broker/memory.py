"""How the broker process's allocator keeps memory it freed (glibc only).

A file transfer allocates and frees several 60 KiB buffers per chunk (the frame
received, the bytes decoded from it, a range read, the frame encoded, libzmq's
copy of it). With glibc's default, the top of the heap is given back to the
system as soon as 128 KiB of it are free, and taken again, a page fault for each
4 KiB, a moment later: about six faults per chunk, a tenth of the broker's time
on a download on the benchmark's VM (docs/performance.md, "Files"). Keeping up to
:data:`KEPT_FREE` of freed heap costs that much RSS at most, and no faults.
Elsewhere (musl, macOS, Windows) nothing is changed.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Final

log = logging.getLogger("zmqchat.broker")

# Free heap kept before any is given back: a few windows' worth of buffers.
KEPT_FREE: Final = 4 << 20
_M_TRIM_THRESHOLD: Final = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD: Final = -3


def keep_freed_memory(kept: int = KEPT_FREE) -> bool:
    """Have glibc keep up to ``kept`` bytes of freed heap; False if not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (glibc's own: not musl, whose mallopt differs)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Setting the trim threshold also fixes the mmap threshold (glibc otherwise
    # moves it): kept at its default, 128 KiB, so large blocks still go back.
    ok: bool = mallopt(_M_MMAP_THRESHOLD, 128 << 10) == 1 and mallopt(_M_TRIM_THRESHOLD, kept) == 1
    if not ok:
        log.debug("mallopt refused; the allocator keeps its defaults")
    return ok


__all__ = ["KEPT_FREE", "keep_freed_memory"]
