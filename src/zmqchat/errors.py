"""Every exception zmqchat raises on bad input or a failed operation derives from one
root, so ``except ZmqchatError`` is the one catch a program (or the ``zmqchat``
command) needs.

::

    ZmqchatError
    ├── ProtocolError      a message breaks protocol v1; carries the error ``code``
    │   └── DecodeError    a frame is not a msgpack map within the size limits
    ├── BrokerError        the broker refused a request; carries ``code`` and ``ref``
    ├── ConnectionClosed   the client is closed (by ``close()``, replaced, or refused)
    ├── Timeout            no reply in time (also a builtin ``TimeoutError``)
    ├── Cancelled          a file transfer stopped by its caller; it can go on later
    ├── ServerKeyChanged   the broker's CURVE key is not the one remembered for it
    ├── UsageError         bad input from the user: an argument, an endpoint (also a
    │   │                  builtin ``ValueError``)
    │   └── ConfigError    a configuration value is missing, unknown or invalid
    ├── ScriptError        a client command's own failure, with its exit status
    │                      (defined in :mod:`zmqchat.client.chat.failures`)
    ├── StoreError         the broker's store can't be opened, is locked, or can't commit
    └── BindError          the broker can't bind an endpoint (port in use, bad host)

``ProtocolError`` is what the sans-IO layer raises while validating; the broker turns
it into an ``error`` reply in exactly one place. ``BrokerError`` is its mirror on the
client side: the reply came back and the client library raises it to the caller.
:func:`zmqchat.client.chat.failures.classify` turns any of them into what a user is
shown and the exit status of a client command.

Outside the tree on purpose: ``Signalled``, a ``KeyboardInterrupt`` (SIGTERM or SIGHUP
unwinding a client command as Ctrl-C does), which is no error; and the builtin
``ValueError``, ``TypeError`` and ``RuntimeError`` a program gets for calling the API
wrongly (a bot command registered twice, ``connect()`` called twice).
"""

from __future__ import annotations

__all__ = [
    "BindError",
    "BrokerError",
    "Cancelled",
    "ConfigError",
    "ConnectionClosed",
    "DecodeError",
    "ProtocolError",
    "ServerKeyChanged",
    "StoreError",
    "Timeout",
    "UsageError",
    "ZmqchatError",
]


class ZmqchatError(Exception):
    """The root of every zmqchat exception."""


class ProtocolError(ZmqchatError):
    """A message does not follow the protocol.

    ``code`` is one of :class:`zmqchat.common.protocol.ErrorCode`; ``message`` is the
    human-readable explanation sent back to the peer; ``retry_after`` (seconds), when
    set, says when trying again can succeed (``rate_limited``).
    """

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after


class DecodeError(ProtocolError):
    """A frame could not be decoded into a msgpack map."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_request", message)


class BrokerError(ZmqchatError):
    """The broker answered a request with an ``error`` reply; ``retry_after`` is its
    field of that name (seconds until trying again can succeed), when it has one."""

    def __init__(
        self, code: str, message: str, ref: object = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.ref = ref
        self.retry_after = retry_after


class ConnectionClosed(ZmqchatError):
    """The client can no longer talk to the broker (closed, replaced or refused)."""

    def __init__(self, reason: str, error: BrokerError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class Timeout(ZmqchatError, TimeoutError):
    """A request got no reply, or the broker did not answer, within the time allowed.

    ``hint``: the likely cause, when one is known (a wrong CURVE server key)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message if hint is None else f"{message}: {hint}")
        self.hint = hint


class Cancelled(ZmqchatError):
    """A file transfer was stopped by its caller (its ``cancel`` event set, or the
    call interrupted). What the broker acknowledged stays (an upload) and so does the
    part file (a download): the same call again goes on from ``done`` of ``size``
    bytes. The message says so."""

    def __init__(self, message: str, done: int, size: int) -> None:
        super().__init__(message)
        self.done = done
        self.size = size


class ServerKeyChanged(ZmqchatError):
    """The broker's CURVE key is not the one remembered for it (trust on first use),
    as ssh's "host key changed": refused, since someone may be impersonating it."""


class UsageError(ZmqchatError, ValueError):
    """Input from the user is not valid: an argument, a name, an endpoint.

    Also a ``ValueError``, which callers of ``Client(endpoint=...)`` caught before."""


class ConfigError(UsageError):
    """A configuration file, environment variable or flag holds an invalid value."""


class StoreError(ZmqchatError):
    """The broker's store can't be used: it can't be opened, has an unknown schema, is
    locked by another broker, or can't commit."""


class BindError(ZmqchatError):
    """The broker could not bind an endpoint (port in use, bad host)."""
