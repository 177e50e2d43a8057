"""Configuration layers of DESIGN.md §10: defaults < TOML file < ZMQCHAT_* env < flags."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from zmqchat.common.config import (
    BrokerConfig,
    ClientConfig,
    default_data_dir,
    load_config,
)
from zmqchat.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config"


def _toml(tmp_path: Path, body: str, name: str = "broker.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults


def test_broker_defaults_match_the_design() -> None:
    cfg = load_config(BrokerConfig, env={})
    assert cfg == BrokerConfig()
    assert cfg.host == "127.0.0.1"
    assert cfg.port == 5555
    assert cfg.pub_port == 5556
    assert cfg.db is None
    assert cfg.data_dir is None
    assert cfg.log_level == "info"
    assert cfg.heartbeat == 5.0
    assert cfg.timeout == 15.0
    assert cfg.rate_limit == 200.0
    assert cfg.rate_burst == 1000
    assert cfg.max_sessions is None
    assert cfg.fsync is False


def test_client_defaults() -> None:
    cfg = load_config(ClientConfig, env={})
    assert cfg == ClientConfig()
    assert cfg.host == "127.0.0.1"
    assert cfg.port == 5555
    assert cfg.user is None
    assert cfg.rooms == ("general",)
    assert cfg.endpoint == "tcp://127.0.0.1:5555"


# ------------------------------------------------------------------------- precedence


PRECEDENCE_TOML = """
port = 6000
pub_port = 6001
heartbeat = 2
log_level = "debug"
"""


def test_toml_file_overrides_defaults(tmp_path: Path) -> None:
    cfg = load_config(BrokerConfig, file=_toml(tmp_path, PRECEDENCE_TOML), env={})
    assert cfg.port == 6000
    assert cfg.pub_port == 6001
    assert cfg.heartbeat == 2.0
    assert isinstance(cfg.heartbeat, float)
    assert cfg.log_level == "debug"
    assert cfg.timeout == 15.0  # not in the file: default


def test_env_overrides_toml(tmp_path: Path) -> None:
    env = {"ZMQCHAT_PORT": "7000", "ZMQCHAT_RATE_LIMIT": "0"}
    cfg = load_config(BrokerConfig, file=_toml(tmp_path, PRECEDENCE_TOML), env=env)
    assert cfg.port == 7000
    assert cfg.pub_port == 6001
    assert cfg.rate_limit == 0.0
    assert cfg.heartbeat == 2.0


def test_flags_override_env_and_toml(tmp_path: Path) -> None:
    cfg = load_config(
        BrokerConfig,
        file=_toml(tmp_path, PRECEDENCE_TOML),
        env={"ZMQCHAT_PORT": "7000", "ZMQCHAT_LOG_LEVEL": "error"},
        overrides={"port": 8000, "pub_port": 8001, "log_level": None},
    )
    assert cfg.port == 8000
    assert cfg.pub_port == 8001
    assert cfg.log_level == "error"  # the flag was not given: env wins
    assert cfg.heartbeat == 2.0


def test_flag_none_means_not_given() -> None:
    overrides = dict.fromkeys(f.name for f in dataclasses.fields(BrokerConfig))
    cfg = load_config(BrokerConfig, env={"ZMQCHAT_PORT": "7000"}, overrides=overrides)
    assert cfg == BrokerConfig(port=7000)


def test_flags_given_as_strings_are_parsed() -> None:
    cfg = load_config(BrokerConfig, env={}, overrides={"port": "7100", "heartbeat": "1.5"})
    assert cfg.port == 7100
    assert cfg.heartbeat == 1.5


def test_config_file_from_env(tmp_path: Path) -> None:
    path = _toml(tmp_path, "port = 6100\npub_port = 6101\n")
    cfg = load_config(BrokerConfig, env={"ZMQCHAT_CONFIG": str(path)})
    assert (cfg.port, cfg.pub_port) == (6100, 6101)


def test_explicit_file_wins_over_config_env(tmp_path: Path) -> None:
    explicit = _toml(tmp_path, "port = 6200\n", "explicit.toml")
    other = _toml(tmp_path, "port = 6300\n", "other.toml")
    cfg = load_config(BrokerConfig, file=explicit, env={"ZMQCHAT_CONFIG": str(other)})
    assert cfg.port == 6200


def test_unrelated_environment_is_ignored() -> None:
    env = {"PORT": "1", "ZMQCHAT": "x", "ZMQCHAT_NOT_A_SETTING": "y", "zmqchat_port": "2"}
    assert load_config(BrokerConfig, env=env) == BrokerConfig()


def test_client_layers(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'host = "10.0.0.5"\nrooms = ["dev", "ops"]\nuser = "alice"\n')
    cfg = load_config(
        ClientConfig, file=path, env={"ZMQCHAT_USER": "bob"}, overrides={"port": 6000}
    )
    assert cfg == ClientConfig(host="10.0.0.5", port=6000, user="bob", rooms=("dev", "ops"))
    assert cfg.endpoint == "tcp://10.0.0.5:6000"


# ------------------------------------------------------------------------ env parsing


@pytest.mark.parametrize(
    ("var", "raw", "field", "value"),
    [
        ("ZMQCHAT_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("ZMQCHAT_PORT", "6000", "port", 6000),
        ("ZMQCHAT_PORT", " 6001 ", "port", 6001),
        ("ZMQCHAT_PUB_PORT", "6002", "pub_port", 6002),
        ("ZMQCHAT_DB", "/tmp/x.db", "db", "/tmp/x.db"),
        ("ZMQCHAT_DB", "none", "db", None),
        ("ZMQCHAT_DB", "None", "db", None),
        ("ZMQCHAT_DB", "", "db", None),
        ("ZMQCHAT_DATA_DIR", "/srv/zmqchat", "data_dir", "/srv/zmqchat"),
        ("ZMQCHAT_LOG_LEVEL", "warning", "log_level", "warning"),
        ("ZMQCHAT_HEARTBEAT", "2.5", "heartbeat", 2.5),
        ("ZMQCHAT_HEARTBEAT", "2", "heartbeat", 2.0),
        ("ZMQCHAT_TIMEOUT", "30", "timeout", 30.0),
        ("ZMQCHAT_RATE_LIMIT", "0", "rate_limit", 0.0),
        ("ZMQCHAT_RATE_LIMIT", "12.5", "rate_limit", 12.5),
        ("ZMQCHAT_RATE_BURST", "5", "rate_burst", 5),
        ("ZMQCHAT_MAX_SESSIONS", "100", "max_sessions", 100),
        ("ZMQCHAT_MAX_SESSIONS", "none", "max_sessions", None),
        ("ZMQCHAT_MAX_SESSIONS", "NONE", "max_sessions", None),
        ("ZMQCHAT_FSYNC", "true", "fsync", True),
        ("ZMQCHAT_FSYNC", "1", "fsync", True),
        ("ZMQCHAT_FSYNC", "yes", "fsync", True),
        ("ZMQCHAT_FSYNC", "On", "fsync", True),
        ("ZMQCHAT_FSYNC", "false", "fsync", False),
        ("ZMQCHAT_FSYNC", "0", "fsync", False),
        ("ZMQCHAT_FSYNC", "no", "fsync", False),
        ("ZMQCHAT_FSYNC", "OFF", "fsync", False),
    ],
)
def test_broker_env_values_are_parsed(var: str, raw: str, field: str, value: Any) -> None:
    cfg = load_config(BrokerConfig, env={var: raw})
    assert getattr(cfg, field) == value
    assert type(getattr(cfg, field)) is type(value)
    others = {f.name for f in dataclasses.fields(BrokerConfig)} - {field}
    for name in others:
        assert getattr(cfg, name) == getattr(BrokerConfig(), name)


def test_fsync_true_from_env_differs_from_default() -> None:
    assert load_config(BrokerConfig, env={"ZMQCHAT_FSYNC": "1"}).fsync is True
    assert load_config(BrokerConfig, env={}).fsync is False


@pytest.mark.parametrize(
    ("raw", "rooms"),
    [
        ("a,b", ("a", "b")),
        ("dev", ("dev",)),
        (" dev , ops ,", ("dev", "ops")),
        ("", ()),
    ],
)
def test_client_rooms_from_env(raw: str, rooms: tuple[str, ...]) -> None:
    assert load_config(ClientConfig, env={"ZMQCHAT_ROOMS": raw}).rooms == rooms


def test_client_optional_user_from_env() -> None:
    assert load_config(ClientConfig, env={"ZMQCHAT_USER": "alice"}).user == "alice"
    assert load_config(ClientConfig, env={"ZMQCHAT_USER": "none"}).user is None
    assert load_config(ClientConfig, env={"ZMQCHAT_CONNECT_TIMEOUT": "0.5"}).connect_timeout == 0.5


def test_rate_limit_zero_disables_and_ports_zero_mean_any() -> None:
    cfg = load_config(BrokerConfig, env={"ZMQCHAT_RATE_LIMIT": "0"})
    assert cfg.rate_limit == 0
    cfg = load_config(BrokerConfig, env={"ZMQCHAT_PORT": "0", "ZMQCHAT_PUB_PORT": "0"})
    assert (cfg.port, cfg.pub_port) == (0, 0)


def test_optional_keys_in_toml(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'db = "/srv/chat.db"\nmax_sessions = 10\nfsync = true\n')
    cfg = load_config(BrokerConfig, file=path, env={})
    assert cfg.db == "/srv/chat.db"
    assert cfg.max_sessions == 10
    assert cfg.fsync is True
    assert load_config(BrokerConfig, file=path, env={"ZMQCHAT_DB": "none"}).db is None


# ----------------------------------------------------------------------------- errors


def test_unknown_toml_key(tmp_path: Path) -> None:
    path = _toml(tmp_path, "port = 6000\nbogus_key = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'bogus_key'") as info:
        load_config(BrokerConfig, file=path, env={})
    assert str(path) in str(info.value)


def test_client_key_in_broker_file_is_unknown(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'rooms = ["general"]\n')
    with pytest.raises(ConfigError, match="unknown key 'rooms'"):
        load_config(BrokerConfig, file=path, env={})


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('port = "x"', "port"),
        ("port = 5555.5", "port"),
        ("port = true", "port"),
        ('host = ["a"]', "host"),
        ("host = 1", "host"),
        ('heartbeat = "fast"', "heartbeat"),
        ("heartbeat = true", "heartbeat"),
        ("fsync = 1", "fsync"),
        ('fsync = "maybe"', "fsync"),
        ("rate_burst = 1.5", "rate_burst"),
        ("max_sessions = [1]", "max_sessions"),
    ],
)
def test_wrong_type_in_toml(tmp_path: Path, body: str, key: str) -> None:
    path = _toml(tmp_path, body + "\n")
    with pytest.raises(ConfigError, match=f"key '{key}'") as info:
        load_config(BrokerConfig, file=path, env={})
    assert str(path) in str(info.value)


def test_client_rooms_wrong_type_in_toml(tmp_path: Path) -> None:
    path = _toml(tmp_path, "rooms = [1, 2]\n", "client.toml")
    with pytest.raises(ConfigError, match="key 'rooms'"):
        load_config(ClientConfig, file=path, env={})


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = _toml(tmp_path, "port = = 1\n")
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load_config(BrokerConfig, file=path, env={})
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("ZMQCHAT_PORT", "abc"),
        ("ZMQCHAT_PORT", "5555.0"),
        ("ZMQCHAT_PORT", ""),
        ("ZMQCHAT_PUB_PORT", "0x10"),
        ("ZMQCHAT_HEARTBEAT", "fast"),
        ("ZMQCHAT_RATE_BURST", "1e3"),
        ("ZMQCHAT_FSYNC", "maybe"),
        ("ZMQCHAT_FSYNC", "2"),
        ("ZMQCHAT_MAX_SESSIONS", "lots"),
    ],
)
def test_unparsable_env(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"environment variable {var}: {raw!r}")):
        load_config(BrokerConfig, env={var: raw})


def test_unparsable_env_names_the_expected_type() -> None:
    with pytest.raises(ConfigError, match="'abc' is not a valid integer"):
        load_config(BrokerConfig, env={"ZMQCHAT_PORT": "abc"})
    with pytest.raises(ConfigError, match="'maybe' is not a valid boolean"):
        load_config(BrokerConfig, env={"ZMQCHAT_FSYNC": "maybe"})


@pytest.mark.parametrize("port", [-1, 65536, 70000])
@pytest.mark.parametrize("key", ["port", "pub_port"])
def test_port_out_of_range(key: str, port: int) -> None:
    with pytest.raises(ConfigError, match=f"{key} must be between 0 and 65535, not {port}"):
        load_config(BrokerConfig, env={}, overrides={key: port})


def test_port_out_of_range_in_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="port must be between 0 and 65535"):
        load_config(BrokerConfig, file=_toml(tmp_path, "port = 99999\n"), env={})
    with pytest.raises(ConfigError, match="port must be between 0 and 65535"):
        load_config(ClientConfig, env={"ZMQCHAT_PORT": "65536"})


def test_port_equal_to_pub_port() -> None:
    with pytest.raises(ConfigError, match="port and pub_port must differ"):
        load_config(BrokerConfig, env={"ZMQCHAT_PORT": "5556"})
    with pytest.raises(ConfigError, match="port and pub_port must differ"):
        load_config(BrokerConfig, env={}, overrides={"port": 7000, "pub_port": 7000})


@pytest.mark.parametrize(("heartbeat", "timeout"), [("5", "5"), ("5", "4.9"), ("20", "15")])
def test_timeout_must_exceed_heartbeat(heartbeat: str, timeout: str) -> None:
    env = {"ZMQCHAT_HEARTBEAT": heartbeat, "ZMQCHAT_TIMEOUT": timeout}
    with pytest.raises(ConfigError, match="timeout must be longer than heartbeat"):
        load_config(BrokerConfig, env=env)


def test_timeout_just_above_heartbeat_is_fine() -> None:
    cfg = load_config(BrokerConfig, env={"ZMQCHAT_HEARTBEAT": "5", "ZMQCHAT_TIMEOUT": "5.01"})
    assert cfg.timeout == 5.01


@pytest.mark.parametrize("heartbeat", ["0", "-1"])
def test_heartbeat_must_be_positive(heartbeat: str) -> None:
    with pytest.raises(ConfigError, match="heartbeat must be > 0"):
        load_config(BrokerConfig, env={"ZMQCHAT_HEARTBEAT": heartbeat})


@pytest.mark.parametrize("rate", ["-1", "-0.5"])
def test_negative_rate_limit(rate: str) -> None:
    with pytest.raises(ConfigError, match="rate_limit must be >= 0"):
        load_config(BrokerConfig, env={"ZMQCHAT_RATE_LIMIT": rate})


def test_rate_burst_and_max_sessions_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="rate_burst must be >= 1"):
        load_config(BrokerConfig, env={"ZMQCHAT_RATE_BURST": "0"})
    with pytest.raises(ConfigError, match="max_sessions must be >= 1"):
        load_config(BrokerConfig, env={"ZMQCHAT_MAX_SESSIONS": "0"})


def test_max_subscriptions_leaves_room_for_a_subscriber() -> None:
    with pytest.raises(ConfigError, match="max_subscriptions must be >= 8"):
        load_config(BrokerConfig, env={"ZMQCHAT_MAX_SUBSCRIPTIONS": "7"})
    assert load_config(BrokerConfig, env={}).max_subscriptions == 4096


@pytest.mark.parametrize("level", ["verbose", "trace", "", "infoo"])
def test_bad_log_level(level: str) -> None:
    with pytest.raises(ConfigError, match="log_level must be one of debug, info, warning"):
        load_config(BrokerConfig, env={"ZMQCHAT_LOG_LEVEL": level})
    with pytest.raises(ConfigError, match="log_level must be one of"):
        load_config(ClientConfig, env={}, overrides={"log_level": level})


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "error", "critical"])
def test_log_levels_are_case_insensitive(level: str) -> None:
    assert load_config(BrokerConfig, env={"ZMQCHAT_LOG_LEVEL": level}).log_level == level


def test_client_connect_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="connect_timeout must be > 0"):
        load_config(ClientConfig, env={"ZMQCHAT_CONNECT_TIMEOUT": "0"})


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(BrokerConfig, file=path, env={})
    assert str(path) in str(info.value)


def test_missing_config_file_named_by_env(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=re.escape(f"{path} does not exist")):
        load_config(BrokerConfig, env={"ZMQCHAT_CONFIG": str(path)})


def test_unknown_flag() -> None:
    with pytest.raises(ConfigError, match="flag --no-such-thing: unknown setting 'no_such_thing'"):
        load_config(BrokerConfig, env={}, overrides={"no_such_thing": 1})


def test_unparsable_flag() -> None:
    with pytest.raises(ConfigError, match="flag --pub-port: 'abc' is not a valid integer"):
        load_config(BrokerConfig, env={}, overrides={"pub_port": "abc"})


@pytest.mark.parametrize("var", ["ZMQCHAT_HEARTBEAT", "ZMQCHAT_TIMEOUT", "ZMQCHAT_RATE_LIMIT"])
def test_nan_is_refused(var: str) -> None:
    with pytest.raises(ConfigError, match=f"{var}: 'nan' is not a valid number"):
        load_config(BrokerConfig, env={var: "nan"})


@pytest.mark.parametrize("body", ['port = "6000"', 'heartbeat = "2"', 'fsync = "yes"'])
def test_quoted_numbers_and_bools_in_toml_are_wrong_typed(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError, match="key '"):
        load_config(BrokerConfig, file=_toml(tmp_path, body + "\n"), env={})


def test_range_error_names_its_source() -> None:
    with pytest.raises(ConfigError, match="ZMQCHAT_PORT"):
        load_config(BrokerConfig, env={"ZMQCHAT_PORT": "70000"})


# ---------------------------------------------------------------------------- db path


def test_explicit_db_wins_over_data_dir(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    cfg = load_config(BrokerConfig, env={"ZMQCHAT_DB": db, "ZMQCHAT_DATA_DIR": "/elsewhere"})
    assert cfg.db_path == db


def test_db_defaults_to_data_dir(tmp_path: Path) -> None:
    cfg = load_config(BrokerConfig, env={}, overrides={"data_dir": str(tmp_path)})
    assert cfg.db_path == str(tmp_path / "zmqchat.db")


def test_db_defaults_to_the_user_data_dir() -> None:
    cfg = BrokerConfig()
    assert cfg.db_path == str(default_data_dir() / "zmqchat.db")
    assert "zmqchat" in default_data_dir().parts[-1]


def test_session_capacity_is_capped_by_max_sessions() -> None:
    assert BrokerConfig(max_sessions=3).session_capacity == 3
    assert BrokerConfig().session_capacity >= 1


# ------------------------------------------------------------------ example files


def test_example_broker_toml_holds_the_defaults() -> None:
    cfg = load_config(BrokerConfig, file=EXAMPLES / "broker.toml", env={})
    assert cfg == BrokerConfig()


def test_example_client_toml_holds_the_defaults() -> None:
    cfg = load_config(ClientConfig, file=EXAMPLES / "client.toml", env={})
    assert cfg == ClientConfig()


def _mentioned_keys(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r"^[ \t]*#?[ \t]*([a-z_]+)[ \t]*=", text, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("cls", "name"), [(BrokerConfig, "broker.toml"), (ClientConfig, "client.toml")]
)
def test_example_files_mention_every_key(cls: type, name: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    mentioned = _mentioned_keys(EXAMPLES / name)
    assert fields - mentioned == set()
    # and nothing that is not a setting
    assert mentioned - fields == set()


# ------------------------------------------------------------ several broker nodes

NODES = ("tcp://10.0.0.5:5555", "tcp://10.0.0.6:5555")


def test_endpoints_from_toml_env_and_flags(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'endpoints = ["tcp://10.0.0.5:5555", "tcp://10.0.0.6:5555"]\n')
    assert load_config(ClientConfig, file=path, env={}).broker_endpoints == NODES
    env = {"ZMQCHAT_ENDPOINTS": "tcp://10.0.0.5:5555, tcp://10.0.0.6:5555"}
    assert load_config(ClientConfig, env=env).broker_endpoints == NODES
    flags = {"endpoints": list(NODES)}
    assert load_config(ClientConfig, env={}, overrides=flags).broker_endpoints == NODES
    # Without endpoints, host and port are the one node.
    assert ClientConfig(host="h", port=1).broker_endpoints == ("tcp://h:1",)


def test_endpoints_or_host_port_whichever_layer_is_higher(tmp_path: Path) -> None:
    nodes = 'endpoints = ["tcp://10.0.0.5:5555", "tcp://10.0.0.6:5555"]\n'
    path = _toml(tmp_path, nodes)
    # --host (or ZMQCHAT_PORT) over endpoints in the file: one node.
    cfg = load_config(ClientConfig, file=path, env={}, overrides={"host": "10.0.0.9"})
    assert cfg.broker_endpoints == ("tcp://10.0.0.9:5555",)
    cfg = load_config(ClientConfig, file=path, env={"ZMQCHAT_PORT": "6000"})
    assert cfg.broker_endpoints == ("tcp://127.0.0.1:6000",)
    # ZMQCHAT_ENDPOINTS over host in the file; --endpoint over ZMQCHAT_HOST.
    path = _toml(tmp_path, 'host = "10.0.0.9"\n')
    env = {"ZMQCHAT_ENDPOINTS": ",".join(NODES)}
    assert load_config(ClientConfig, file=path, env=env).broker_endpoints == NODES
    cfg = load_config(
        ClientConfig, env={"ZMQCHAT_HOST": "10.0.0.9"}, overrides={"endpoints": list(NODES)}
    )
    assert cfg.broker_endpoints == NODES


def test_endpoints_and_host_in_one_layer_are_refused(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'host = "h"\nendpoints = ["tcp://10.0.0.5:5555"]\n')
    with pytest.raises(ConfigError, match="endpoints or as host and port, not both"):
        load_config(ClientConfig, file=path, env={})
    env = {"ZMQCHAT_ENDPOINTS": NODES[0], "ZMQCHAT_PORT": "1"}
    with pytest.raises(ConfigError, match="ZMQCHAT_ENDPOINTS"):
        load_config(ClientConfig, env=env)


def test_bad_endpoints_say_where_they_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ZMQCHAT_ENDPOINTS.*'10\.0\.0\.5:5555'"):
        load_config(ClientConfig, env={"ZMQCHAT_ENDPOINTS": "10.0.0.5:5555"})
    path = _toml(tmp_path, 'endpoints = "tcp://10.0.0.5:5555"\n')  # a string, not a list
    with pytest.raises(ConfigError, match="endpoints"):
        load_config(ClientConfig, file=path, env={})


def test_the_endpoint_flag_repeats_and_takes_comma_lists(monkeypatch, tmp_path: Path) -> None:
    from zmqchat.cli import build_parser
    from zmqchat.cli.options import client_config

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no client.toml
    for name in ("CONFIG", "HOST", "PORT", "ENDPOINTS"):
        monkeypatch.delenv(f"ZMQCHAT_{name}", raising=False)
    argv = ["who", "--endpoint", NODES[0], "--endpoint", f"{NODES[1]},tcp://10.0.0.7:5555"]
    config = client_config(build_parser().parse_args(argv))
    assert config.broker_endpoints == (*NODES, "tcp://10.0.0.7:5555")
    assert client_config(build_parser().parse_args(["who", "--port", "6000"])).broker_endpoints == (
        "tcp://127.0.0.1:6000",
    )
