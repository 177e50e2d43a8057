"""``zmqchat keygen``: a CURVE key pair for a client (or a broker) whose keys an
operator manages, e.g. for a broker's ``allowed_keys`` directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zmqchat.cli.options import Subparsers

KEYGEN_EPILOG = """\
writes NAME.key (the public key: give it to the broker's operator, who puts it in
the allowed_keys directory) and NAME.key_secret (yours, mode 0600: point the
client at it with --client-key or client_key in client.toml).

examples:
  zmqchat keygen                          ~/.local/share/zmqchat/keys/client.key*
  zmqchat keygen --dir /etc/zmqchat --name broker
"""


def add_keygen(sub: Subparsers) -> None:
    p = sub.add_parser(
        "keygen",
        help="create a CURVE key pair",
        description="Create a CURVE key pair with pyzmq's zmq.auth certificate files.",
        epilog=KEYGEN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dir", metavar="DIR", help="where to write (default: DATA_DIR/keys)")
    p.add_argument("--name", default="client", help="file name without suffix (default client)")
    p.add_argument("--force", action="store_true", help="replace an existing key pair")
    p.set_defaults(func=_run_keygen)


def _run_keygen(args: argparse.Namespace) -> int:
    from zmqchat.common.config import default_data_dir
    from zmqchat.common.curve import create_key_pair, load_key_pair

    directory = Path(args.dir).expanduser() if args.dir else default_data_dir() / "keys"
    secret = directory / f"{args.name}.key_secret"
    if secret.exists() and not args.force:
        print(f"zmqchat keygen: {secret} exists (--force replaces it)", file=sys.stderr)
        return 1
    try:
        public_file, secret_file = create_key_pair(directory, args.name)
    except OSError as exc:
        print(f"zmqchat keygen: cannot write in {directory}: {exc.strerror}", file=sys.stderr)
        return 1
    public, _ = load_key_pair(secret_file)
    print(f"public key: {public.decode('ascii')}")
    print(f"public key file: {public_file}")
    print(f"secret key file: {secret_file}")
    return 0


__all__ = ["add_keygen"]
