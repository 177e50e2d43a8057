"""What the connect form asks for, without the form: the mistakes found in its
fields before asking the broker, and why a connect failed, each with the field it
is about.

The host field names one broker node, or several (``h1:5555, h2:5565``: each
``host``, ``host:port`` or ``tcp://host:port``) to fail over between; the port
field is the port of a node named without one."""

from __future__ import annotations

import dataclasses
import re
from typing import Final

from zmqchat.client.chat.failures import Field
from zmqchat.common.curve import parse_public_key
from zmqchat.common.endpoints import host_port
from zmqchat.common.protocol import MAX_PASSWORD_CHARS
from zmqchat.errors import UsageError

_HOST: Final = re.compile(r"^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$")


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectFailed:
    """Why connecting failed, and the field of the form it is about (None: no
    field in particular)."""

    field: Field
    message: str


def parse_port(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        return None
    return int(text)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """What to connect with, checked: the password and key None when there is none."""

    user: str
    endpoints: tuple[str, ...]  # every node, ``tcp://host:port``, in the order typed
    password: str | None
    server_key: str | None


def form_fields(endpoints: tuple[str, ...]) -> tuple[str, str]:
    """The host and port fields that show ``endpoints``: one node as host and port,
    several as a list of ``host:port`` in the host field (the port field: the
    first's)."""
    host, port = host_port(endpoints[0])
    if len(endpoints) == 1:
        return host, str(port)
    return ", ".join(e.removeprefix("tcp://") for e in endpoints), str(port)


def check_settings(
    user: str,
    host: str,
    port: str,
    password: str,
    server_key: str,
    *,
    given_password: str | None,
    given_key: str | None,
) -> Settings | ConnectFailed:
    """Every field as typed, checked (:func:`check_form`, :func:`check_password`,
    :func:`check_server_key`), or the first mistake found."""
    checked = check_form(user, host, port)
    if isinstance(checked, ConnectFailed):
        return checked
    secret = check_password(password, given_password)
    if isinstance(secret, ConnectFailed):
        return secret
    key = check_server_key(server_key, given_key)
    if isinstance(key, ConnectFailed):
        return key
    return Settings(*checked, secret, key)


def check_form(user: str, host: str, port: str) -> tuple[str, tuple[str, ...]] | ConnectFailed:
    """The fields as typed, cleaned up: ``(user, endpoints)``, or the first mistake."""
    user = user.strip()
    if not user:
        return ConnectFailed("user", "type the name to chat as")
    nodes = check_nodes(host, port)
    if isinstance(nodes, ConnectFailed):
        return nodes
    return user, nodes


def check_nodes(host: str, port: str) -> tuple[str, ...] | ConnectFailed:
    """The broker nodes the host and port fields name, as endpoints without repeats,
    or the first mistake (a bad port is the port field's only when a node uses it)."""
    parts = [part.strip().removeprefix("tcp://") for part in host.split(",")]
    endpoints: list[str] = []
    for part in parts:
        if _HOST.match(part):
            number = parse_port(port)
            if number is None:
                return ConnectFailed("port", "a port number from 1 to 65535, such as 5555")
            endpoints.append(f"tcp://{part}:{number}")
            continue
        name, _, own = part.rpartition(":")
        number = parse_port(own)
        if not _HOST.match(name) or number is None:
            return ConnectFailed(
                "host",
                "a host name or IP address, such as 127.0.0.1; several nodes as "
                "host:port, separated by commas",
            )
        endpoints.append(f"tcp://{name}:{number}")
    return tuple(dict.fromkeys(endpoints))


def check_server_key(typed: str, given: str | None) -> str | ConnectFailed | None:
    """The broker's CURVE key to connect with: the one typed (Z85 text or a file),
    else the one ``given`` (``--server-key``, client.toml), else None (plaintext, or
    the key remembered for the broker); or why the one typed won't do."""
    typed = typed.strip()
    if not typed:
        return given or None
    try:
        parse_public_key(typed)
    except UsageError as exc:
        return ConnectFailed("server_key", str(exc))
    return typed


def check_password(typed: str, given: str | None) -> str | ConnectFailed | None:
    """The password to register with: the one typed in the form, else the one
    ``given`` without asking (a password file, ``ZMQCHAT_PASSWORD``), else None
    (names without an account need none); or why the one typed won't do."""
    if len(typed) > MAX_PASSWORD_CHARS:
        return ConnectFailed("password", f"at most {MAX_PASSWORD_CHARS} characters")
    return typed or given or None


__all__ = [
    "ConnectFailed",
    "Field",
    "Settings",
    "check_form",
    "check_nodes",
    "check_password",
    "check_server_key",
    "check_settings",
    "form_fields",
    "parse_port",
]
