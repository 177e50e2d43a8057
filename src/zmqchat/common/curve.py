"""CURVE keys as files and text: pyzmq's ``zmq.auth`` certificates, Z85 keys.

No cryptography is done here: key pairs come from libzmq (``zmq.auth``), and the
handshake and encryption are libzmq's CURVE (docs/security.md, "CURVE encryption").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import zmq.auth
import zmq.utils.z85

from zmqchat.errors import UsageError

BROKER_CERT: Final = "broker"
Z85_KEY_LENGTH: Final = 40  # a 32-byte key in Z85


def is_z85_key(text: str) -> bool:
    if len(text) != Z85_KEY_LENGTH:
        return False
    try:
        return len(zmq.utils.z85.decode(text.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError, KeyError):
        return False


def parse_public_key(value: str) -> bytes:
    """A public key given as Z85 text, or as a file: a ``zmq.auth`` certificate
    (``.key`` or ``.key_secret``) or a file whose first line is the Z85 text."""
    text = value.strip()
    if is_z85_key(text):
        return text.encode("ascii")
    path = Path(os.path.expanduser(value))
    try:
        public, _ = zmq.auth.load_certificate(path)
        return public
    except (OSError, ValueError):
        pass
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(
            f"server key {value!r} is neither a 40-character Z85 key nor a readable file"
            f" ({exc.strerror})"
        ) from None
    first = lines[0].strip() if lines else ""
    if not is_z85_key(first):
        raise UsageError(f"{path} holds no Z85 key (40 characters) nor a certificate")
    return first.encode("ascii")


def load_key_pair(path: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    """The (public, secret) pair of a ``.key_secret`` certificate file."""
    try:
        public, secret = zmq.auth.load_certificate(os.path.expanduser(path))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the key pair {path}: {exc}") from None
    if secret is None:
        raise UsageError(f"{path} holds no secret key: give the .key_secret file")
    return public, secret


def create_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write ``name.key`` and ``name.key_secret`` in ``directory`` (made ``0700``);
    the secret file is ``0600``. Returns both paths."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    public_file, secret_file = zmq.auth.create_certificates(directory, name)
    os.chmod(secret_file, 0o600)
    return Path(public_file), Path(secret_file)


def broker_key_pair(directory: Path) -> tuple[bytes, bytes]:
    """The broker's key pair from ``directory``, created there on first use."""
    secret_file = directory / f"{BROKER_CERT}.key_secret"
    if not secret_file.exists():
        create_key_pair(directory, BROKER_CERT)
    elif secret_file.stat().st_mode & 0o077:
        raise UsageError(f"{secret_file} may be read by others: chmod 600 it")
    return load_key_pair(secret_file)


__all__ = [
    "BROKER_CERT",
    "broker_key_pair",
    "create_key_pair",
    "is_z85_key",
    "load_key_pair",
    "parse_public_key",
]
