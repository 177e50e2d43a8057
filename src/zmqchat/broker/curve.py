"""CURVE on the broker's sockets: its key pair, and the ZAP handler that checks
client keys (pyzmq's ``zmq.auth``; see docs/security.md, "CURVE encryption").

Every connection to either socket runs the CURVE handshake, and ZAP asks the
authenticator thread about the client's public key: any key, or only the keys
whose certificates are in the ``allowed_keys`` directory. The key it accepts
becomes the ``User-Id`` of every frame of that connection.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from zmqchat.common.config import BrokerConfig
from zmqchat.common.curve import broker_key_pair
from zmqchat.errors import ConfigError

log = logging.getLogger("zmqchat.broker")


@dataclasses.dataclass(slots=True)
class Curve:
    public: bytes
    secret: bytes
    authenticator: ThreadAuthenticator

    def secure(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE server (before it binds)."""
        sock.curve_server = True
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret

    def close(self) -> None:
        self.authenticator.stop()


def start_curve(ctx: zmq.Context[zmq.Socket[bytes]], config: BrokerConfig) -> Curve | None:
    """The broker's keys (created on first start) and a running authenticator, or
    None when ``encryption`` is ``none``."""
    if config.encryption != "curve":
        return None
    if not zmq.has("curve"):
        raise ConfigError('encryption = "curve", but this libzmq was built without CURVE')
    public, secret = broker_key_pair(config.curve_path)
    location = zmq.auth.CURVE_ALLOW_ANY
    if config.allowed_keys is not None:
        allowed = Path(config.allowed_keys).expanduser()
        if not allowed.is_dir():
            raise ConfigError(f"allowed_keys: {allowed} is not a directory")
        location = str(allowed)
        count = len(list(allowed.glob("*.key")))
        log.info("CURVE: only the %d client key(s) in %s may connect", count, allowed)
    auth = ThreadAuthenticator(ctx, log=logging.getLogger("zmqchat.broker.zap"))
    auth.start()
    auth.configure_curve(domain="*", location=location)
    return Curve(public, secret, auth)


__all__ = ["Curve", "start_curve"]
