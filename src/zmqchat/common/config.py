"""Configuration: defaults < TOML file < ``ZMQCHAT_*`` environment < command-line flags.

Each setting is a dataclass field; its type drives parsing of environment strings and
validation of TOML values, so a typo in a key or a wrong-typed value is reported with
where it came from instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import os
import resource
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import platformdirs

from zmqchat.common.config_checks import (
    check_broker,
    check_level,
    check_port,
)
from zmqchat.common.endpoints import check_endpoints
from zmqchat.common.layers import ENV_PREFIX, coerce, from_env, from_toml
from zmqchat.common.protocol import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_PUB_PORT
from zmqchat.errors import ConfigError

APP_NAME: Final = "zmqchat"
# Every client costs the broker two connections (DEALER and SUB); keep some file
# descriptors for the store, the listening sockets and libzmq's own.
FDS_PER_SESSION: Final = 2
FD_RESERVE: Final = 64


def default_data_dir() -> Path:
    """Where the broker keeps its SQLite store unless told otherwise."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def _fd_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def fd_connection_capacity() -> int:
    """How many connections the open-file limit leaves room for: half the reserve
    more than the sessions take, so that a client past ``max_sessions`` is still
    heard, and answered ``server_busy``, rather than cut off."""
    return max(FDS_PER_SESSION, _fd_limit() - FD_RESERVE // 2)


def fd_session_capacity() -> int:
    """How many sessions the open-file limit leaves room for."""
    return max(1, (_fd_limit() - FD_RESERVE) // FDS_PER_SESSION)


@dataclasses.dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Every broker setting, with its default. See ``config/broker.toml``."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    pub_port: int = DEFAULT_PUB_PORT
    db: str | None = None
    data_dir: str | None = None
    log_level: str = "info"
    heartbeat: float = 5.0
    timeout: float = 15.0
    rate_limit: float = 200.0
    rate_burst: int = 1000
    max_sessions: int | None = None
    fsync: bool = False
    auth: str = "open"
    signup: bool = False
    login_attempts_per_account: int = 5
    login_attempts_per_address: int = 20
    hash_memory_kib: int = 19456
    hash_time_cost: int = 2
    encryption: str = "none"
    curve_dir: str | None = None
    # Where uploaded files live (default: files/ in data_dir, else next to the
    # store). With the Redis engine, a folder every node mounts (docs/scaling.md).
    files_dir: str | None = None
    allowed_keys: str | None = None
    mailbox_limit: int = 1000
    # Frames queued per peer (docs/security.md, "Limits"): events per subscriber
    # before the newest are dropped (it refills the gap from history), replies per
    # client before its connection is closed (it does not read them).
    pub_hwm: int = 1000
    reply_hwm: int = 1000
    # Subscriptions granted per connection to the PUB port (docs/security.md).
    max_subscriptions: int = 4096
    # Connections to both ports, in all and per peer address (None: from the
    # open-file limit; per address a quarter of it), and how long one may stay
    # without registering or being granted a subscription.
    max_connections: int | None = None
    max_connections_per_address: int | None = None
    connect_deadline: float = 10.0
    # Sessions from one address waiting for `resume` (their connection dropped).
    max_detached_per_address: int = 32
    # Requests a second (and a burst) per peer address, over all its sessions (None:
    # five times rate_limit and rate_burst; 0 turns it off, as rate_limit 0 does).
    address_rate_limit: float | None = None
    address_rate_burst: int | None = None
    # Past address_rate_limit, refusals answered a second per address; the other
    # requests over it are dropped unanswered (broker/ratelimits.py).
    address_refusal_rate: float = 100.0
    # Seconds after which an empty room nobody chatted in, and a name that was never
    # an account, are forgotten (broker/forgetting.py).
    forget_rooms_after: float = 60.0
    forget_names_after: float = 7 * 24 * 3600.0
    # Seconds after sending during which a message's sender may edit or delete it
    # (0: messages can't be edited or deleted).
    edit_window: float = 900.0
    # Names that are operators of every room (docs/protocol.md §2.13): they can
    # moderate rooms that have no operator. In `open` mode, whoever takes the name.
    admins: tuple[str, ...] = ()
    # File transfers (docs/protocol.md §2.16): the largest file, the bytes one user's
    # uploads may hold (0: no quota), the free space an upload must leave on the
    # disk, the seconds a half-finished upload is kept, and the chunk requests a
    # second (and a burst) per peer address, apart from the chat limits so that a
    # transfer never starves chat (0 turns it off).
    max_file_size: int = 100 * 1024 * 1024
    file_quota: int = 1024 * 1024 * 1024
    disk_floor: int = 256 * 1024 * 1024
    upload_expiry: float = 24 * 3600.0
    file_rate_limit: float = 2000.0
    # The burst lets a file of max_file_size go up and come back down (3,414
    # chunks) at full speed; the rate holds transfers that go on past it.
    file_rate_burst: int = 4000
    # "sqlite": one broker, everything in its store. "redis": one node of several
    # sharing rooms, names and sessions through the Redis at engine_url, as
    # node_name (default host:port), alive while it renews a lease of node_lease
    # seconds (docs/scaling.md). node_endpoint: the ROUTER endpoint this node
    # advertises to clients in `welcome.nodes` (default tcp://host:port, none when
    # host is a wildcard such as 0.0.0.0).
    engine: str = "sqlite"
    engine_url: str | None = dataclasses.field(default=None, repr=False)  # may hold a password
    node_name: str | None = None
    node_lease: float = 10.0
    node_endpoint: str | None = None
    # Entries of the cluster's records (private messages, file rows) Redis keeps: a
    # node down while more than this many were written can't catch up
    # (docs/scaling.md).
    records_kept: int = 1_000_000

    def __post_init__(self) -> None:
        check_broker(self)

    @property
    def db_path(self) -> str:
        """The SQLite file: ``db`` if set, else ``zmqchat.db`` in the data dir."""
        if self.db:
            return self.db
        base = Path(self.data_dir) if self.data_dir else default_data_dir()
        return str(base / "zmqchat.db")

    @property
    def curve_path(self) -> Path:
        """Where the broker's key pair lives: ``curve_dir``, else ``curve`` in the
        data dir, else next to the store (a broker run on ``--db`` alone keeps its
        keys with it, not in the user's data dir)."""
        if self.curve_dir:
            return Path(self.curve_dir).expanduser()
        base = Path(self.data_dir) if self.data_dir else Path(self.db_path).parent
        return base / "curve"

    @property
    def files_path(self) -> Path:
        """Where uploaded files live: ``files_dir``, else ``files`` in the data dir,
        else next to the store (as :attr:`curve_path`)."""
        if self.files_dir:
            return Path(self.files_dir).expanduser()
        base = Path(self.data_dir) if self.data_dir else Path(self.db_path).parent
        return base / "files"

    @property
    def session_capacity(self) -> int:
        limit = fd_session_capacity()
        return min(limit, self.max_sessions) if self.max_sessions else limit

    @property
    def address_rate(self) -> tuple[float, int]:
        """(requests a second, burst) per address, defaults resolved."""
        rate = self.address_rate_limit
        if rate is None:
            rate = 5 * self.rate_limit
        burst = self.address_rate_burst or 5 * self.rate_burst
        return rate, burst

    @property
    def connection_budget(self) -> tuple[int, int]:
        """(connections in all, connections per address), defaults resolved."""
        total = self.max_connections or fd_connection_capacity()
        per_address = self.max_connections_per_address or max(16, total // 4)
        return total, per_address


@dataclasses.dataclass(frozen=True, slots=True)
class ClientConfig:
    """Settings shared by the client commands. See ``config/client.toml``."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # ROUTER endpoints of several broker nodes (tcp://host:port), instead of host
    # and port; whichever of the two is set at the higher layer wins.
    endpoints: tuple[str, ...] = ()
    user: str | None = None
    rooms: tuple[str, ...] = ("general",)
    connect_timeout: float = 5.0
    log_level: str = "warning"
    # A file holding the password (first line), for brokers with accounts. Never the
    # password itself: a config file is no place for it (ZMQCHAT_PASSWORD is).
    password_file: str | None = None
    # The broker's CURVE public key (Z85 text or a file holding it), and this
    # client's own key pair (a `zmqchat keygen` .key_secret file) for brokers that
    # only let known keys in.
    server_key: str | None = None
    client_key: str | None = None
    # When you are mentioned: the console rings the terminal bell, the GUI asks the
    # desktop for a notification (each once per burst). False: highlight and count only.
    notify: bool = True

    def __post_init__(self) -> None:
        check_port("port", self.port)
        check_level(self.log_level)
        if self.connect_timeout <= 0:
            raise ConfigError("connect_timeout must be > 0 seconds")
        if self.endpoints:
            try:
                check_endpoints(self.endpoints)
            except ValueError as exc:
                raise ConfigError(f"endpoints must be ROUTER endpoints: {exc}") from None

    @property
    def broker_endpoints(self) -> tuple[str, ...]:
        """The ROUTER endpoints to use: ``endpoints``, else ``host`` and ``port``."""
        return check_endpoints(self.endpoints) if self.endpoints else (self.endpoint,)

    @property
    def endpoint(self) -> str:
        """``host`` and ``port`` as an endpoint."""
        return f"tcp://{self.host}:{self.port}"

    @property
    def where(self) -> str:
        """The broker endpoints, as messages name them."""
        return " or ".join(self.broker_endpoints)


_C = TypeVar("_C", BrokerConfig, ClientConfig)


def load_config(
    cls: type[_C],
    *,
    file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    default_file: str | None = None,
) -> _C:
    """Build a config from its layers: defaults < TOML file < environment < overrides.

    ``file`` is an explicit path (it must exist); otherwise ``ZMQCHAT_CONFIG`` from the
    environment, otherwise ``default_file`` in the user config dir if it exists.
    ``overrides`` holds command-line flags; None values mean "not given".
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}  # key -> where its value came from, for errors
    layers: dict[str, int] = {}  # key -> the layer that set it: 1 file, 2 env, 3 flag
    path = file or env.get(ENV_PREFIX + "CONFIG")
    if path is None and default_file is not None:
        candidate = default_config_dir() / default_file
        try:
            path = str(candidate) if candidate.is_file() else None
        except OSError as exc:  # a directory on the way can't be searched
            raise ConfigError(f"cannot read config file {candidate}: {exc.strerror}") from None
    if path is not None:
        from_file = from_toml(cls, Path(path))
        values.update(from_file)
        sources.update(dict.fromkeys(from_file, str(path)))
        layers.update(dict.fromkeys(from_file, 1))
    from_environment = from_env(cls, env)
    values.update(from_environment)
    sources.update({k: f"environment variable {ENV_PREFIX}{k.upper()}" for k in from_environment})
    layers.update(dict.fromkeys(from_environment, 2))
    for key, value in (overrides or {}).items():
        if value is not None:
            where = "flag --" + key.replace("_", "-")
            values[key] = coerce(cls, key, value, where)
            sources[key] = where
            layers[key] = 3
    if cls is ClientConfig:
        _one_way_to_the_broker(values, sources, layers)
    try:
        return cls(**values)
    except ConfigError as exc:
        # Range checks run on the merged values; say which layer set the culprit.
        key = exc.args[0].split(" ", 1)[0]
        if key in sources:
            raise ConfigError(f"{sources[key]}: {exc}") from None
        raise


def _one_way_to_the_broker(
    values: dict[str, Any], sources: Mapping[str, str], layers: Mapping[str, int]
) -> None:
    """``endpoints`` and ``host``/``port`` name the broker two ways: the one set at
    the higher layer wins (``--host`` over ``endpoints`` in client.toml,
    ``ZMQCHAT_ENDPOINTS`` over ``host`` there); both in one layer is a mistake."""
    if "endpoints" not in values:
        return
    single = [key for key in ("host", "port") if key in values]
    if not single:
        return
    top = max(layers[key] for key in single)
    if top > layers["endpoints"]:
        del values["endpoints"]
    elif top < layers["endpoints"]:
        for key in single:
            del values[key]
    else:
        raise ConfigError(
            f"{sources['endpoints']} and {sources[single[0]]}: give the broker as "
            "endpoints or as host and port, not both"
        )
