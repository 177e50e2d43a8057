"""How a client command ends: its exit statuses, their ``--help`` text, and the
signals (SIGTERM, SIGHUP) that end it as Ctrl-C does, saying ``bye`` first so its
name is free at once. Shared by ``zmqchat chat`` and the one-shot commands."""

from __future__ import annotations

import contextlib
import signal
import textwrap
import threading
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import Final, TypeVar

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


def interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or :class:`Signalled`) that ``exc`` stands for, if any.

    CPython raises a signal's exception at whichever bytecode the main thread is
    at. In ``threading.Condition.wait`` (under ``Event.wait``, ``Future.result``
    and the client's event buffer) one such point lies after the lock is released
    and before the ``try`` that takes it back, so the ``with`` block's exit fails
    to release it: RuntimeError, its context the interrupt. The lock is left free,
    as leaving the block would leave it, so that is still just the interrupt."""
    if isinstance(exc, KeyboardInterrupt):
        return exc
    if (
        isinstance(exc, RuntimeError)
        and isinstance(exc.__context__, KeyboardInterrupt)
        # Only a lock left free by the interrupt: RLock's words, then Lock's.
        and str(exc) in ("cannot release un-acquired lock", "release unlocked lock")
    ):
        return exc.__context__
    return None


def interrupted_status(interrupt: KeyboardInterrupt) -> ExitCode:
    """The exit status of a command ended by ``interrupt``."""
    return interrupt.status if isinstance(interrupt, Signalled) else ExitCode.INTERRUPTED


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


# The exit statuses of the one-shot commands, as their ``--help`` lists them.
ONESHOT_EXITS: Final[dict[ExitCode, str]] = {
    ExitCode.OK: "success (also when the reader of stdout goes away, as with | head)",
    ExitCode.REFUSED: "the broker refused the name, a message or a request (reason on stderr)",
    ExitCode.USAGE: "usage or configuration error",
    ExitCode.UNREACHABLE: "broker unreachable: no answer within --connect-timeout, or a "
    "request timed out",
    ExitCode.TIMED_OUT: "--timeout ran out before --count events arrived (how many: on stderr)",
    ExitCode.HUNG_UP: "the terminal was closed (SIGHUP)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitCode.TERMINATED: "terminated (SIGTERM)",
}
SIGNALS_NOTE: Final = "(these three leave cleanly: the name is free at once)"
HELP_WIDTH: Final = 80
_STATUS_INDENT: Final = " " * 7  # "  143  ": where the text of a status starts

_Status = TypeVar("_Status", bound=int)  # ExitCode, or a plain status


def exit_statuses(rows: Mapping[_Status, str], *, note: str = "") -> str:
    """An ``exit status:`` section, one row per status in numeric order; ``note``
    ends it, indented as the texts."""
    lines = ["exit status:"]
    for code in sorted(rows):
        first = f"  {int(code):<4} "
        lines += textwrap.wrap(
            rows[code], HELP_WIDTH, initial_indent=first, subsequent_indent=_STATUS_INDENT
        )
    lines += textwrap.wrap(
        note, HELP_WIDTH, initial_indent=_STATUS_INDENT, subsequent_indent=_STATUS_INDENT
    )
    return "\n".join(lines) + "\n"


def exit_status_help(*, tail: bool = False) -> str:
    """The exit status section of a one-shot command's ``--help``: only ``tail`` can
    run out of time waiting for events."""
    rows = dict(ONESHOT_EXITS)
    if not tail:
        del rows[ExitCode.TIMED_OUT]
    return exit_statuses(rows, note=SIGNALS_NOTE)


__all__ = [
    "ONESHOT_EXITS",
    "SIGNALS_NOTE",
    "ExitCode",
    "Signalled",
    "exit_status_help",
    "exit_statuses",
    "interrupted_status",
    "interruption",
    "signal_status",
    "signals_interrupt",
    "stop_signals",
]
