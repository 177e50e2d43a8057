"""``zmqchat broker``: its options and the runner that serves until a signal."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Final

from zmqchat.cli.helptext import exit_statuses
from zmqchat.cli.options import Subparsers
from zmqchat.errors import ConfigError, ZmqchatError
from zmqchat.logs import LOG_LEVELS, setup_logging

BROKER_EPILOG = """\
settings come from, lowest first: built-in defaults, a TOML file (--config, or
$ZMQCHAT_CONFIG, or broker.toml in the user config dir), ZMQCHAT_* environment
variables (ZMQCHAT_TIMEOUT=30, ZMQCHAT_RATE_LIMIT=0, ...), then these flags.
See config/broker.toml for every key.

examples:
  zmqchat broker                                  loopback, ports 5555/5556
  zmqchat broker --host 0.0.0.0                   open to the LAN
  zmqchat broker --port 0 --pub-port 0 --ready-file /tmp/b.json --db /tmp/t.db
  ZMQCHAT_RATE_LIMIT=0 zmqchat broker --log-level debug
  ZMQCHAT_ENCRYPTION=curve zmqchat broker --host 0.0.0.0   CURVE; prints its public key
"""

# What _run_broker returns.
BROKER_EXITS: Final = {
    0: "stopped by SIGINT or SIGTERM, or the --parent-pid process is gone",
    1: "a port could not be bound, or the store could not be opened, locked or "
    "written (reason on stderr)",
    2: "usage or configuration error",
}


def add_broker(sub: Subparsers) -> None:
    p = sub.add_parser(
        "broker",
        help="run the broker",
        description="Run the zmqchat broker: a ROUTER for requests, a PUB for room events, "
        "history in SQLite. SIGINT/SIGTERM stop it cleanly.",
        epilog=f"{BROKER_EPILOG}\n{exit_statuses(BROKER_EXITS)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="TOML file with broker settings")
    p.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for the LAN)")
    p.add_argument("--port", type=int, help="ROUTER port for requests (default 5555; 0 = any)")
    p.add_argument("--pub-port", type=int, help="PUB port for room events (default 5556; 0 = any)")
    p.add_argument("--db", metavar="FILE", help="SQLite store (default: DATA_DIR/zmqchat.db)")
    p.add_argument("--data-dir", metavar="DIR", help="store directory (default: user data dir)")
    p.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity (default info)")
    p.add_argument(
        "--ready-file",
        metavar="PATH",
        help="write the bound endpoints as JSON to PATH once serving (for tests and supervisors)",
    )
    p.add_argument("--parent-pid", type=int, metavar="PID", help="exit when process PID is gone")
    p.set_defaults(func=_run_broker)


def _run_broker(args: argparse.Namespace) -> int:
    from zmqchat.broker.memory import keep_freed_memory
    from zmqchat.broker.server import BrokerServer
    from zmqchat.common.config import BrokerConfig, load_config

    overrides = {
        key: getattr(args, key)
        for key in ("host", "port", "pub_port", "db", "data_dir", "log_level")
    }
    try:
        config = load_config(
            BrokerConfig, file=args.config, overrides=overrides, default_file="broker.toml"
        )
    except ConfigError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    server = BrokerServer(config, ready_file=args.ready_file, parent_pid=args.parent_pid)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.stop()

    # From here on Ctrl-C is a clean stop (status 0), also while binding or opening
    # the store: never a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.bind()
    except ConfigError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 2
    except ZmqchatError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 1
    if server.public_key is not None:
        # Every start, on a line of its own: what operators hand to clients.
        print(f"public key: {server.public_key}", flush=True)

    keep_freed_memory()  # no page faults for each chunk's buffers: broker/memory.py
    try:
        return server.run()
    except ZmqchatError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 1


__all__ = ["add_broker"]
