"""How a client command ends: its exit statuses, their ``--help`` text, and the
signals (SIGTERM, SIGHUP) that end it as Ctrl-C does, saying ``bye`` first so its
name is free at once. Shared by ``zmqchat chat`` and the one-shot commands."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Final

from zmqchat.client.chat.failures import ExitCode


def stop_signals() -> list[signal.Signals]:
    """The signals that should end a client as Ctrl-C does (saying bye, so its name
    is free at once): SIGTERM and SIGHUP, unless ignored, as under ``nohup``."""
    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    return [signum for signum in wanted if signal.getsignal(signum) is not signal.SIG_IGN]


def signal_status(signum: int) -> ExitCode:
    """The exit status for a client stopped by ``signum``."""
    return ExitCode(128 + signum)


class Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread where Ctrl-C would be, so the
    same unwinding (``connected`` closing the client) ends the command."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.status = signal_status(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While in the block, SIGTERM and SIGHUP raise :class:`Signalled` once; later
    ones are ignored, so a second signal cannot cut the ``bye`` short."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (tests call run() elsewhere)
        return
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Signalled(signum)

    previous = {signum: signal.signal(signum, handler) for signum in stop_signals()}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


SIGNALS_HELP: Final = (
    "  129  the terminal was closed (SIGHUP)\n"
    "  130  interrupted (Ctrl-C)\n"
    "  143  terminated (SIGTERM)\n"
    "       (these three leave cleanly: the name is free at once)\n"
)


def exit_status_help(*, tail: bool = False) -> str:
    """The exit status table for a command's ``--help`` epilog."""
    timed_out = (
        "  4    --timeout ran out before --count events arrived (how many: on stderr)\n"
        if tail
        else ""
    )
    return (
        "exit status:\n"
        "  0    success (also when the reader of stdout goes away, as with | head)\n"
        "  1    the broker refused the name, a message or a request (reason on stderr)\n"
        "  2    usage or configuration error\n"
        "  3    broker unreachable: no answer within --connect-timeout, or a request\n"
        "       timed out\n"
        f"{timed_out}"
        f"{SIGNALS_HELP}"
    )


__all__ = [
    "SIGNALS_HELP",
    "ExitCode",
    "Signalled",
    "exit_status_help",
    "signal_status",
    "signals_interrupt",
    "stop_signals",
]
