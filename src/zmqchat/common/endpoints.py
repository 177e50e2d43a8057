"""Broker endpoints as clients name them: ``tcp://host:port`` ROUTER endpoints, one or
a list of them (one per broker node), and the PUB endpoint a welcome points at.

Pure string work, shared by the settings (``endpoints`` in ``client.toml``,
``ZMQCHAT_ENDPOINTS``, ``--endpoint``) and the client library.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from zmqchat.common.protocol import DEFAULT_HOST, DEFAULT_PORT
from zmqchat.errors import UsageError

DEFAULT_ENDPOINT: Final = f"tcp://{DEFAULT_HOST}:{DEFAULT_PORT}"


def check_endpoint(endpoint: str) -> str:
    """Validate a ``tcp://host:port`` endpoint and return it; a :class:`UsageError`
    (also a ``ValueError``) when it is none."""
    if not isinstance(endpoint, str):
        raise UsageError(f"endpoint must be a string like tcp://HOST:PORT, not {endpoint!r}")
    if not endpoint.startswith("tcp://") or ":" not in endpoint[6:]:
        raise UsageError(f"endpoint must look like tcp://HOST:PORT, not {endpoint!r}")
    port = endpoint.rsplit(":", 1)[1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"endpoint {endpoint!r} has no valid port")
    return endpoint


def check_endpoints(endpoints: str | Iterable[str]) -> tuple[str, ...]:
    """One endpoint, a comma-separated list of them, or an iterable of them, as a
    checked tuple without repeats (first occurrence kept); :class:`UsageError` when
    one is not an endpoint or there is none."""
    if isinstance(endpoints, str):
        items = [part.strip() for part in endpoints.split(",") if part.strip()]
    else:
        items = list(endpoints)
    checked = tuple(dict.fromkeys(check_endpoint(item) for item in items))
    if not checked:
        raise UsageError("no broker endpoint given")
    return checked


def host_port(endpoint: str) -> tuple[str, int]:
    """The host and port of a checked ``tcp://host:port`` endpoint."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


def pub_endpoint(endpoint: str, pub_port: int) -> str:
    """The broker's PUB endpoint: the host used for the ROUTER with ``pub_port``
    (each node names its own PUB port in its welcome)."""
    return f"{endpoint.rsplit(':', 1)[0]}:{pub_port}"


__all__ = ["DEFAULT_ENDPOINT", "check_endpoint", "check_endpoints", "host_port", "pub_endpoint"]
