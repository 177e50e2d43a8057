"""The checks of a broker's configuration: each refusal names its key and says why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from zmqchat.common.endpoints import check_endpoint
from zmqchat.common.protocol import is_valid_name
from zmqchat.errors import ConfigError, UsageError
from zmqchat.logs import LOG_LEVELS

if TYPE_CHECKING:
    from zmqchat.common.config import BrokerConfig

# `auth`: who may register which name (see docs/security.md).
AUTH_MODES: Final = ("open", "accounts", "required")
# `encryption`: "curve" is CURVE on both broker sockets (docs/security.md).
ENCRYPTION_MODES: Final = ("none", "curve")
# The least argon2id work a password hash may be given. OWASP's equivalent choices
# (m=46 MiB t=1, 19 MiB t=2, 12 MiB t=3, 9 MiB t=4, 7 MiB t=5) all spend at least
# 7 MiB and 35840 KiB-passes; below that a stolen store falls to guessing faster
# than OWASP accepts.
# `engine`: where what brokers share lives (docs/scaling.md).
ENGINES: Final = ("sqlite", "redis")
ENGINE_SCHEMES: Final = ("redis://", "rediss://", "unix://")
MIN_HASH_MEMORY_KIB: Final = 7168
MIN_HASH_WORK: Final = 7168 * 5


def check_broker(config: BrokerConfig) -> None:
    """Refuse a broker configuration that can't work, saying which key and why."""
    check_port("port", config.port)
    for name in config.admins:
        if not is_valid_name(name):
            raise ConfigError(f"admins must be user names, not {name!r}")
    check_port("pub_port", config.pub_port)
    if config.encryption not in ENCRYPTION_MODES:
        modes = ", ".join(ENCRYPTION_MODES)
        raise ConfigError(f"encryption must be one of {modes}, not {config.encryption!r}")
    if config.allowed_keys is not None and config.encryption != "curve":
        raise ConfigError('allowed_keys needs encryption = "curve"')
    if config.port and config.port == config.pub_port:
        raise ConfigError("port and pub_port must differ")
    check_level(config.log_level)
    if config.heartbeat <= 0:
        raise ConfigError("heartbeat must be > 0 seconds")
    if config.timeout <= config.heartbeat:
        raise ConfigError("timeout must be longer than heartbeat")
    if config.rate_limit < 0:
        raise ConfigError("rate_limit must be >= 0 (0 disables the limit)")
    if config.rate_burst < 1:
        raise ConfigError("rate_burst must be >= 1")
    if config.max_sessions is not None and config.max_sessions < 1:
        raise ConfigError("max_sessions must be >= 1")
    if config.auth not in AUTH_MODES:
        raise ConfigError(f"auth must be one of {', '.join(AUTH_MODES)}, not {config.auth!r}")
    for key in ("login_attempts_per_account", "login_attempts_per_address"):
        if getattr(config, key) < 0:
            raise ConfigError(f"{key} must be >= 0 (0 disables the limit)")
    if config.mailbox_limit < 1:
        raise ConfigError("mailbox_limit must be >= 1")
    for key in ("max_connections", "max_connections_per_address"):
        value = getattr(config, key)
        if value is not None and value < 1:
            raise ConfigError(f"{key} must be >= 1")
    if config.max_detached_per_address < 1:
        raise ConfigError("max_detached_per_address must be >= 1")
    for key in ("forget_rooms_after", "forget_names_after"):
        if getattr(config, key) <= 0:
            raise ConfigError(f"{key} must be > 0 seconds")
    _check_address_limits(config)
    if config.edit_window < 0:
        raise ConfigError("edit_window must be >= 0 seconds (0 disables editing)")
    if config.connect_deadline <= 0:
        raise ConfigError("connect_deadline must be > 0 seconds")
    _check_peer_queues(config)
    _check_files(config)
    _check_engine(config)
    if config.hash_memory_kib < MIN_HASH_MEMORY_KIB:
        raise ConfigError(f"hash_memory_kib must be >= {MIN_HASH_MEMORY_KIB} (7 MiB)")
    if config.hash_time_cost < 1 or config.hash_memory_kib * config.hash_time_cost < MIN_HASH_WORK:
        raise ConfigError(
            f"hash_time_cost times hash_memory_kib must be >= {MIN_HASH_WORK} "
            "(OWASP: 2 passes of 19456 KiB, ..., 5 of 7168)"
        )


def _check_peer_queues(config: BrokerConfig) -> None:
    for key in ("pub_hwm", "reply_hwm"):
        if getattr(config, key) < 10:
            raise ConfigError(f"{key} must be >= 10 (frames queued per peer)")
    if config.max_subscriptions < 8:
        raise ConfigError("max_subscriptions must be >= 8 (a subscriber needs one per room)")


def _check_engine(config: BrokerConfig) -> None:
    if config.engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {config.engine!r}")
    if config.engine == "sqlite":
        return
    url = config.engine_url or ""
    if not url.startswith(ENGINE_SCHEMES):
        raise ConfigError('engine = "redis" needs engine_url, a redis://, rediss:// or unix:// URL')
    if config.node_lease <= 0:
        raise ConfigError("node_lease must be > 0 seconds")
    if config.node_endpoint is not None:
        try:
            check_endpoint(config.node_endpoint)
        except UsageError as exc:
            raise ConfigError(f"node_endpoint: {exc}") from None
    if config.records_kept < 1000:
        raise ConfigError("records_kept must be at least 1000 entries")


def _check_address_limits(config: BrokerConfig) -> None:
    if config.address_rate_limit is not None and config.address_rate_limit < 0:
        raise ConfigError("address_rate_limit must be >= 0 (0 disables the limit)")
    if config.address_rate_burst is not None and config.address_rate_burst < 1:
        raise ConfigError("address_rate_burst must be >= 1")
    if config.address_refusal_rate < 0:
        raise ConfigError("address_refusal_rate must be >= 0 (0 answers none)")


def _check_files(config: BrokerConfig) -> None:
    for key in ("max_file_size", "file_quota", "disk_floor"):
        if getattr(config, key) < 0:
            raise ConfigError(f"{key} must be >= 0 (bytes)")
    if config.upload_expiry <= 0:
        raise ConfigError("upload_expiry must be > 0 seconds")
    if config.file_rate_limit < 0:
        raise ConfigError("file_rate_limit must be >= 0 (0 disables the limit)")
    if config.file_rate_burst < 1:
        raise ConfigError("file_rate_burst must be >= 1")


def check_port(key: str, value: int) -> None:
    if not 0 <= value <= 65535:
        raise ConfigError(f"{key} must be between 0 and 65535, not {value}")


def check_level(value: str) -> None:
    if value.lower() not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
