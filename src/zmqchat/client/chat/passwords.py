"""Where a client's password comes from, for brokers with accounts: a password file
(``--password-file``, ``ZMQCHAT_PASSWORD_FILE`` or ``password_file`` in client.toml),
else ``ZMQCHAT_PASSWORD``, else a prompt on a terminal when the broker asks for one.

Never a command-line argument (other users see those in ``ps``) nor a config value
(config files are often readable by others). A password file that other users can
read is refused, as ssh refuses such a private key: it is the one secret it holds.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from zmqchat.common.config import ClientConfig
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import BrokerError, ConfigError, ConnectionClosed

PASSWORD_ENV: Final = "ZMQCHAT_PASSWORD"


def read_password_file(path: str) -> str:
    """The first line of ``path``, without its line end.

    Raises :class:`ConfigError` if it can't be read, is empty, or is a regular file
    that users other than its owner may read (a pipe, such as ``<(pass show x)``,
    is taken as it is)."""
    file = Path(path).expanduser()
    try:
        with file.open(encoding="utf-8") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if stat.S_ISREG(mode) and mode & 0o077:
                raise ConfigError(
                    f"password file {path} can be read by other users "
                    f"(mode {stat.S_IMODE(mode):04o}); chmod 600 it"
                )
            password = fh.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"password file {path} is not UTF-8 text") from None
    if not password:
        raise ConfigError(f"password file {path} is empty")
    return password


def configured_password(config: ClientConfig, env: Mapping[str, str] | None = None) -> str | None:
    """The password given without asking: the password file's, else
    ``ZMQCHAT_PASSWORD``'s; None when neither is set."""
    if config.password_file:
        return read_password_file(config.password_file)
    value = (os.environ if env is None else env).get(PASSWORD_ENV)
    return value or None


def wants_password(exc: BaseException) -> bool:
    """Whether a failed connect asks for a (another) password: ``auth_failed``."""
    if isinstance(exc, ConnectionClosed):
        exc = exc.error or exc
    return isinstance(exc, BrokerError) and exc.code == ErrorCode.AUTH_FAILED


__all__ = ["PASSWORD_ENV", "configured_password", "read_password_file", "wants_password"]
