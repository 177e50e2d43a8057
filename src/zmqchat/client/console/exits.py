"""Exit statuses of the client commands, and their ``--help`` text.

Apart from the one-shot commands' logic, so that ``zmqchat --help`` can show them
without loading zmq and the client library.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class ExitCode(IntEnum):
    """The exit status of every client command (also listed in each ``--help``)."""

    OK = 0
    REFUSED = 1  # the broker refused a name, a message or a request, or closed us
    USAGE = 2  # bad flags, config, or input (argparse uses 2 as well)
    UNREACHABLE = 3  # no answer within --connect-timeout, or a request timed out
    TIMED_OUT = 4  # tail --timeout ran out before --count events arrived
    # Stopped by a signal, as shells report it (128 + the signal's number); the
    # client still said bye, so its name is free at once.
    HUNG_UP = 129  # SIGHUP: the terminal was closed
    INTERRUPTED = 130  # SIGINT: Ctrl-C
    TERMINATED = 143  # SIGTERM: kill, a supervisor, a shutdown


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


__all__ = ["SIGNALS_HELP", "ExitCode", "exit_status_help"]
