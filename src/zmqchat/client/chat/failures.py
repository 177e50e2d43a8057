"""What went wrong, once for every front end: :func:`classify` turns any exception
from connecting or from a request into a :class:`Failure`, whose kind, field,
message and exit status the console, the GUI, the one-shot commands and bots show
as they are. Only the layout is theirs: a chat transcript puts the broker's code
last (``!!! alice is online (name_taken)``, :attr:`Failure.display`), a line on
stderr first (``zmqchat send: name_taken: alice is online``, :attr:`Failure.report`),
so that scripts can grep it.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Final, Literal

from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import (
    BrokerError,
    ConnectionClosed,
    ProtocolError,
    ServerKeyChanged,
    Timeout,
    UsageError,
    ZmqchatError,
)


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


Kind = Literal["refused", "unreachable", "closed", "usage", "timed_out", "failed", "internal"]
# The input a failure is about, as a connect form names it (None: none in particular).
Field = Literal["user", "password", "host", "port", "server_key"] | None

# The kind a command's own failure has, by the status it ends with.
_KINDS: Final[dict[ExitCode, Kind]] = {
    ExitCode.REFUSED: "refused",
    ExitCode.USAGE: "usage",
    ExitCode.UNREACHABLE: "unreachable",
    ExitCode.TIMED_OUT: "timed_out",
}
# Refusals of the register that are about the name typed, not the broker.
_NAME_CODES: Final = (ErrorCode.INVALID_NAME, ErrorCode.NAME_TAKEN)


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """One failure, classified: ``kind`` says what happened, ``field`` which input
    to correct, ``message`` what to tell the user, ``code`` the broker's error code
    (None when the broker did not answer with one) and ``exit_status`` how a
    command ends."""

    kind: Kind
    field: Field
    message: str
    exit_status: ExitCode
    code: str | None = None

    @property
    def display(self) -> str:
        """For people reading a chat: ``alice is online (name_taken)``."""
        return f"{self.message} ({self.code})" if self.code else self.message

    @property
    def report(self) -> str:
        """For a line on stderr or in a log: ``name_taken: alice is online``."""
        return f"{self.code}: {self.message}" if self.code else self.message


class ScriptError(ZmqchatError):
    """A failure a client command found itself (not the broker), with the exit
    status it ends with; also how a command carries a failure already classified."""

    def __init__(self, code: ExitCode, message: str, *, failure: Failure | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.failure = failure or Failure(_KINDS.get(code, "failed"), None, message, code)

    @classmethod
    def of(cls, failure: Failure) -> ScriptError:
        """End a command with ``failure``."""
        return cls(failure.exit_status, failure.message, failure=failure)


def classify(
    exc: Exception, *, endpoint: str | None = None, connect_timeout: float | None = None
) -> Failure:
    """What ``exc`` means to the user. ``endpoint`` (and ``connect_timeout``): the
    exception came from connecting there, which makes a timeout a broker that never
    answered and a refused name something to type again."""
    connecting = endpoint is not None
    if isinstance(exc, ScriptError):
        return exc.failure
    if isinstance(exc, BrokerError | ProtocolError):
        # ProtocolError: the client refused to send it (a request over the size limit).
        field: Field = None
        if connecting and exc.code in _NAME_CODES:
            field = "user"
        elif connecting and exc.code == ErrorCode.AUTH_FAILED:
            field = "password"
        return Failure("refused", field, exc.message, ExitCode.REFUSED, exc.code)
    if isinstance(exc, Timeout):
        if endpoint is None:
            return Failure("unreachable", None, f"broker unreachable: {exc}", ExitCode.UNREACHABLE)
        within = "" if connect_timeout is None else f" within {connect_timeout:g}s"
        where = endpoint.replace("tcp://", "")  # one endpoint, or "A or B"
        text = f"broker unreachable: no zmqchat broker answered at {where}{within}"
        if exc.hint is not None:  # with CURVE: a wrong key looks just like no broker
            text = f"{text} ({exc.hint})"
            return Failure("unreachable", "server_key", text, ExitCode.UNREACHABLE)
        # An encrypted broker says nothing to a client without its key, either.
        text = f"{text} (an encrypted broker also needs its server key)"
        return Failure("unreachable", "host", text, ExitCode.UNREACHABLE)
    if isinstance(exc, ServerKeyChanged):
        return Failure("refused", "server_key", str(exc), ExitCode.REFUSED)
    if isinstance(exc, ConnectionClosed):
        why = f"{exc.error.code}: {exc.error.message}" if exc.error else exc.reason
        return Failure("closed", None, f"connection closed: {why}", ExitCode.REFUSED)
    if isinstance(exc, UsageError):  # ConfigError too
        return Failure("usage", None, str(exc), ExitCode.USAGE)
    if isinstance(exc, ZmqchatError):
        return Failure("failed", None, str(exc), ExitCode.REFUSED)
    # A bug of ours: said plainly, so a UI can go on and a report can quote it; 1 is
    # also the status of a Python program that ends on an uncaught exception.
    text = f"internal error: {type(exc).__name__}: {exc}"
    return Failure("internal", None, text, ExitCode.REFUSED)


__all__ = ["ExitCode", "Failure", "Field", "Kind", "ScriptError", "classify"]
