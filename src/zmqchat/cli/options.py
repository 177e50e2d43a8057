"""What the client commands share: their options, their settings, argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from zmqchat.logs import LOG_LEVELS, setup_logging

if TYPE_CHECKING:
    from zmqchat.common.config import ClientConfig


class CommandParser(argparse.ArgumentParser):
    """A command's parser, whose epilog may be written only when its help is shown.

    The chat's help lists its commands from their table; building every parser, as
    any ``zmqchat`` run does, should not load that table for the others' sake.
    """

    def __init__(
        self, *args: Any, epilog_from: Callable[[], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_from = epilog_from

    def format_help(self) -> str:
        if self.epilog_from is not None:
            self.epilog, self.epilog_from = self.epilog_from(), None
        return super().format_help()


# argparse's own name for what add_subparsers returns; not subscriptable at run time.
Subparsers: TypeAlias = "argparse._SubParsersAction[CommandParser]"

CLIENT_SETTINGS = """\
settings come from, lowest first: built-in defaults, a TOML file (--config, or
$ZMQCHAT_CONFIG, or client.toml in the user config dir), ZMQCHAT_HOST /
ZMQCHAT_PORT / ZMQCHAT_ENDPOINTS / ZMQCHAT_USER / ZMQCHAT_CONNECT_TIMEOUT, then
these flags. See config/client.toml for every key. Several broker nodes:
--endpoint tcp://h1:5555 --endpoint tcp://h2:5555 (or one comma list); the client
moves to another when the one it is on stops answering.

a name with an account on the broker needs its password: from --password-file
(or ZMQCHAT_PASSWORD_FILE; a file only its owner can read), else from
$ZMQCHAT_PASSWORD, else it is asked on the terminal; never on the command line.
The script commands use it only with --user.
"""


def client_command(
    sub: Subparsers,
    name: str,
    *,
    help: str,
    description: str,
    epilog: Callable[[], str],
    user: bool = True,
) -> CommandParser:
    """The parser of a client command, with the shared options; its help ends with
    where the settings come from."""
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog_from=lambda: f"{epilog()}\n{CLIENT_SETTINGS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_client_options(p, user=user)
    return p


def script_command(
    sub: Subparsers, name: str, *, help: str, description: str, examples: str, tail: bool = False
) -> CommandParser:
    """A one-shot client command (``send``, ``topic``, ``file send``...): its help
    ends with ``examples``, then its exit statuses; ``--user`` is its own."""
    from zmqchat.client.console.exits import exit_status_help  # only for --help

    return client_command(
        sub,
        name,
        help=help,
        description=description,
        epilog=lambda: f"examples:\n{examples}\n{exit_status_help(tail=tail)}",
        user=False,
    )


def add_client_options(p: argparse.ArgumentParser, *, user: bool = True) -> None:
    """The options every client command shares, read by :func:`client_config`."""
    p.add_argument("--config", metavar="FILE", help="TOML file with client settings")
    p.add_argument("--host", help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="broker ROUTER port (default 5555)")
    p.add_argument(
        "--endpoint",
        action="append",
        metavar="tcp://HOST:PORT",
        help="a broker node's ROUTER endpoint, instead of --host/--port; repeat it (or "
        "give a comma list) for several nodes to fail over between",
    )
    if user:
        p.add_argument("--user", help="name to register as")
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the password (first line) from FILE, which only you may read",
    )
    p.add_argument(
        "--server-key",
        metavar="KEY",
        help="the broker's CURVE public key: Z85 text (as the broker prints it) or a "
        "file; remembered for the broker, and a changed key refused, as ssh does",
    )
    p.add_argument(
        "--client-key",
        metavar="FILE",
        help="your CURVE key pair (.key_secret from `zmqchat keygen`), for a broker "
        "that only lets known keys in",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        metavar="S",
        help="give up when the broker does not answer within S seconds (default 5)",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity (default warning)")


def client_config(args: argparse.Namespace, **overrides: object) -> ClientConfig:
    """The client settings for a command: its flags over env, TOML and defaults.

    Raises ConfigError, which :func:`zmqchat.cli.main` reports as a one-line error
    (exit 2).
    """
    from zmqchat.common.config import ClientConfig, load_config

    flags = {
        key: getattr(args, key, None)
        for key in (
            "host",
            "port",
            "user",
            "password_file",
            "server_key",
            "client_key",
            "connect_timeout",
            "log_level",
        )
    }
    given = getattr(args, "endpoint", None)
    if given:
        # Repeated, and each may be a comma list: one list of endpoints.
        flags["endpoints"] = [part.strip() for each in given for part in each.split(",")]
    flags.update(overrides)
    config = load_config(
        ClientConfig, file=args.config, overrides=flags, default_file="client.toml"
    )
    setup_logging(config.log_level)
    return config


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def seq(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return number


def seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {value}")
    return number


__all__ = [
    "CLIENT_SETTINGS",
    "CommandParser",
    "Subparsers",
    "add_client_options",
    "client_command",
    "client_config",
    "positive_int",
    "seconds",
    "seq",
]
