"""How one script command runs: a client of its own, a line on stdout per result,
notes on stderr, and one exit status that tells a refusal from an unreachable
broker from a typo (:class:`~zmqchat.client.console.exits.ExitCode`)."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import re
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

from zmqchat.client.chat.failures import ExitCode, ScriptError, classify
from zmqchat.client.chat.passwords import configured_password, wants_password
from zmqchat.client.console.exits import interrupted_status, interruption, signals_interrupt
from zmqchat.client.io.sync import Client
from zmqchat.client.io.trust import trust_options
from zmqchat.common.config import ClientConfig
from zmqchat.common.messages import Welcome
from zmqchat.common.protocol import MAX_NAME_CHARS
from zmqchat.errors import ZmqchatError


def run(command: str, body: Callable[[], int], *, stderr: TextIO | None = None) -> int:
    """Run a command body; every error becomes one stderr line and an exit status."""
    err = stderr or sys.stderr
    try:
        with signals_interrupt():
            return body()
    except ZmqchatError as exc:
        failure = classify(exc)
        print(f"zmqchat {command}: {failure.report}", file=err)
        return failure.exit_status
    except BrokenPipeError:
        # The reader went away (`| head`): that ends the command, quietly and
        # successfully. Point stdout at /dev/null so the interpreter's final flush
        # does not complain about the same broken pipe.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    except KeyboardInterrupt as exc:
        return interrupted_status(exc)
    except RuntimeError as exc:
        interrupt = interruption(exc)
        if interrupt is None:
            raise
        return interrupted_status(interrupt)


def note(command: str, text: str, err: TextIO | None = None) -> None:
    """A line for the person at the terminal, on stderr so stdout keeps only data."""
    stream = err or sys.stderr
    print(f"zmqchat {command}: {text}", file=stream)
    stream.flush()


def unique_name(prefix: str) -> str:
    """A user name for this process, ``<prefix>-<host>-<pid>``, valid and at most 32
    characters, so many script commands can run at once without ``name_taken``."""
    pid = str(os.getpid())
    room_for_host = MAX_NAME_CHARS - len(prefix) - len(pid) - 2
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])
    host = host[: max(0, room_for_host)] or "host"
    return f"{prefix}-{host}-{pid}"[:MAX_NAME_CHARS]


@contextlib.contextmanager
def connected(
    config: ClientConfig,
    user: str | None,
    rooms: Iterable[str],
    command: str,
    *,
    ask: Callable[[str], str] | None = None,
) -> Iterator[tuple[Client, Welcome]]:
    """A registered client for one command and its welcome (which holds the head seq
    of each room), closed (``bye``) however the block ends.

    With a ``user`` given, the password is the configured one (see
    :mod:`~zmqchat.client.chat.passwords`); without one, a name the broker says has
    an account gets its password asked on the terminal (``ask``, getpass by default)
    when stdin is one, and one more try. The name made up without ``user`` has no
    account, and gets no password: sent for a free name, it would be refused, or
    sign the made-up name up on a broker with self sign-up."""
    name = user or unique_name(command)
    password = configured_password(config) if user else None
    while True:
        client = Client(
            name,
            config.broker_endpoints,
            rooms=tuple(rooms),
            password=password,
            client_name=f"zmqchat {command}",
            **trust_options(config),
            connect_timeout=config.connect_timeout,
        )
        try:
            welcome = client.connect()
        except (KeyboardInterrupt, RuntimeError) as exc:
            if interruption(exc) is None:
                raise
            # Stopped while registering: the broker may have taken the name already.
            client.close(timeout=1.0)
            raise
        except ZmqchatError as exc:
            if password is None and wants_password(exc) and sys.stdin.isatty():
                password = (ask or getpass.getpass)(f"password for {name}: ") or None
                if password is not None:
                    continue
            # Classified here, where it is known to be the connect: "no broker answered".
            failure = classify(exc, endpoint=config.where, connect_timeout=config.connect_timeout)
            if password is None and wants_password(exc):
                hint = "; give it with --password-file FILE or ZMQCHAT_PASSWORD"
                failure = dataclasses.replace(failure, message=failure.message + hint)
            raise ScriptError.of(failure) from None
        break
    try:
        yield client, welcome
    finally:
        client.close(timeout=1.0)


def write_line(out: TextIO, text: str) -> None:
    """One line, flushed at once, so `| grep` and `| jq` see events as they come."""
    out.write(text + "\n")
    out.flush()
