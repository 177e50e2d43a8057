"""Which broker key a client expects: ``--server-key``, or trust on first use.

As ssh's ``known_hosts``: the first key a client connects with to a broker
(``host:port``) is remembered, once the broker has answered through it, in
``known_brokers`` in the user's data dir (``0600``); later connections without a
key use it, and a different key for that broker is refused until its line is
removed. CURVE tells a client nothing about a key it does not already have, so
the first key always comes from ``--server-key`` (the broker prints it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

import zmq

from zmqchat.common.config import ClientConfig, default_data_dir
from zmqchat.common.curve import is_z85_key, load_key_pair, parse_public_key
from zmqchat.errors import ServerKeyChanged, UsageError


@dataclasses.dataclass(frozen=True, slots=True)
class CurveKeys:
    """What a client's sockets need for CURVE."""

    server: bytes
    public: bytes
    secret: bytes

    def secure(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE client of the broker (before it connects)."""
        sock.curve_serverkey = self.server
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret


def trust_options(config: ClientConfig) -> dict[str, Any]:
    """The CURVE options of a client command's ``Client``, from its settings, with
    trust on first use in the user's ``known_brokers``."""
    return {
        "server_key": config.server_key,
        "client_key": config.client_key,
        "known_brokers": default_known_brokers(),
    }


def default_known_brokers() -> Path:
    """The trust-on-first-use file: ``known_brokers`` in the user data dir."""
    return default_data_dir() / "known_brokers"


def broker_name(endpoint: str) -> str:
    """How ``known_brokers`` names the broker at ``endpoint``: ``host:port``."""
    return endpoint.removeprefix("tcp://")


class KnownBrokers:
    """The ``known_brokers`` file: one ``host:port Z85KEY`` line per broker."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def get(self, broker: str) -> bytes | None:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UsageError(f"cannot read {self.path}: {exc.strerror}") from None
        for line in lines:
            fields = line.split()
            if len(fields) == 2 and fields[0] == broker and is_z85_key(fields[1]):
                return fields[1].encode("ascii")
        return None

    def remember(self, broker: str, key: bytes) -> None:
        """Add ``broker``'s key (the file is created ``0600``, its dir ``0700``)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(f"{broker} {key.decode('ascii')}\n")


@dataclasses.dataclass(slots=True)
class Trust:
    """The keys a client connects with, and what to remember once it is in."""

    keys: CurveKeys | None
    store: KnownBrokers | None = None
    remember: str | None = None  # the broker to remember keys.server for

    def connected(self) -> None:
        """The broker answered through the key: remember it if it was the first."""
        if self.keys is None or self.store is None or self.remember is None:
            return
        broker, self.remember = self.remember, None
        with contextlib.suppress(UsageError, OSError):  # not remembered: asked again
            if self.store.get(broker) is None:
                self.store.remember(broker, self.keys.server)


def resolve_trust(
    endpoint: str,
    server_key: str | bytes | None,
    client_key: str | os.PathLike[str] | None,
    known_brokers: str | os.PathLike[str] | None,
) -> Trust:
    """The CURVE keys for ``endpoint``: ``server_key`` (Z85 or a file), else the
    one remembered in ``known_brokers`` (None: no trust on first use), else none
    (plaintext). Raises :class:`ServerKeyChanged` when both are given and differ."""
    given: bytes | None = None
    if isinstance(server_key, bytes):
        given = parse_public_key(server_key.decode("ascii", "replace"))
    elif server_key:
        given = parse_public_key(server_key)
    store = KnownBrokers(known_brokers) if known_brokers is not None else None
    broker = broker_name(endpoint)
    known = store.get(broker) if store is not None else None
    if given is not None and known is not None and given != known:
        assert store is not None
        raise ServerKeyChanged(
            f"the broker at {broker} is known with another key ({known.decode()}), not "
            f"{given.decode()}: someone may be impersonating it. If its key really "
            f"changed, remove its line from {store.path}"
        )
    key = given or known
    if key is None:
        if client_key is not None:
            raise UsageError("a client key needs the broker's key too (--server-key)")
        return Trust(None)
    if client_key is not None:
        public, secret = load_key_pair(client_key)
    else:
        # No key the broker must know: a fresh pair per client is as good, and
        # links nothing across its connections.
        public, secret = zmq.curve_keypair()
    remember = broker if known is None else None
    return Trust(CurveKeys(key, public, secret), store, remember)


__all__ = [
    "CurveKeys",
    "KnownBrokers",
    "Trust",
    "default_known_brokers",
    "resolve_trust",
    "trust_options",
]
