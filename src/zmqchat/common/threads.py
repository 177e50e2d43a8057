"""The threads zmqchat starts in a client, born with the stop signals blocked.

CPython runs signal handlers in the main thread only, yet POSIX lets the kernel
hand a process-directed signal to any thread that does not block it. Linux picks
the main thread while it can take the signal, and another thread when it cannot
for a moment (glibc blocks every signal in a thread while it creates one, for
example). Taken by another thread, SIGINT, SIGTERM or SIGHUP only sets CPython's
flag: the main thread sees it at its next bytecode, and a main thread asleep in a
call with no timeout (``zmqchat send -`` reading stdin) is not woken at all. With
the stop signals blocked in every thread of ours (libzmq blocks them in its own),
the main thread is the only one the kernel can give them to, and its wait ends
with EINTR.

A blocked mask is inherited by the threads a thread starts and by the programs it
runs, so a thread that runs code of the caller's (the ``on_event`` dispatcher) or
starts a program (the desktop notifier) is started plainly, not from here.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Set
from typing import Final

# The signals the commands act on: Ctrl-C, and those that end a client as it does
# (see zmqchat.client.console.exits). Windows has neither SIGHUP nor signal masks.
STOP_SIGNALS: Final = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def block_stop_signals() -> Set[int]:
    """Block the stop signals in the calling thread; returns the mask before."""
    if not hasattr(signal, "pthread_sigmask"):
        return set()
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def start_masked(thread: threading.Thread) -> None:
    """Start ``thread`` with the stop signals blocked from its first instruction: it
    inherits them blocked from this thread, which blocks them only while it starts
    it (one arriving meanwhile waits, pending, and is raised here once started).
    The caller keeps ``thread`` before calling: an interrupt raised here comes after
    the thread started, and its owner must still know it to stop it."""
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return
    before = block_stop_signals()
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def start_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread running ``target``, started by :func:`start_masked`."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    start_masked(thread)
    return thread


__all__ = ["STOP_SIGNALS", "block_stop_signals", "start_masked", "start_thread"]
