"""CURVE keys without a broker: parsing a key given as text or a file, the
broker's pair made once, the known_brokers file, the config checks, which peer
addresses are local, and the connect form's key field."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq

from zmqchat.broker.logins import is_local
from zmqchat.client.gui.connect_form import ConnectFailed, check_server_key
from zmqchat.client.io.trust import KnownBrokers, resolve_trust
from zmqchat.common.config import BrokerConfig
from zmqchat.common.curve import broker_key_pair, create_key_pair, parse_public_key
from zmqchat.errors import ConfigError, ServerKeyChanged, UsageError


def test_a_key_is_z85_text_a_certificate_or_a_file_of_text(tmp_path: Path) -> None:
    public_file, secret_file = create_key_pair(tmp_path, "c")
    public, _ = zmq.auth.load_certificate(public_file)
    text = public.decode()
    assert parse_public_key(text) == public
    assert parse_public_key(f"  {text}\n") == public
    assert parse_public_key(str(public_file)) == public
    assert parse_public_key(str(secret_file)) == public
    plain = tmp_path / "key.txt"
    plain.write_text(text + "\n")
    assert parse_public_key(str(plain)) == public
    for bad in ("short", "~" * 40, "x" * 39, str(tmp_path / "missing")):
        with pytest.raises(UsageError):
            parse_public_key(bad)


def test_the_broker_pair_is_made_once_with_a_private_secret(tmp_path: Path) -> None:
    first = broker_key_pair(tmp_path / "curve")
    assert broker_key_pair(tmp_path / "curve") == first
    secret = tmp_path / "curve" / "broker.key_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    secret.chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        broker_key_pair(tmp_path / "curve")


def test_trust_on_first_use(tmp_path: Path) -> None:
    known = tmp_path / "known_brokers"
    key = zmq.curve_keypair()[0]
    first = resolve_trust("tcp://h:1", key.decode(), None, known)
    assert first.keys is not None
    assert first.remember == "h:1"
    first.connected()
    assert KnownBrokers(known).get("h:1") == key
    assert KnownBrokers(known).get("h:2") is None
    later = resolve_trust("tcp://h:1", None, None, known)
    assert later.keys is not None
    assert later.keys.server == key
    assert later.remember is None
    with pytest.raises(ServerKeyChanged):
        resolve_trust("tcp://h:1", zmq.curve_keypair()[0].decode(), None, known)
    assert resolve_trust("tcp://h:2", None, None, known).keys is None  # plaintext
    assert resolve_trust("tcp://h:1", None, None, None).keys is None  # no TOFU asked


def test_config_checks() -> None:
    assert BrokerConfig(encryption="curve").encryption == "curve"
    with pytest.raises(ConfigError, match="encryption"):
        BrokerConfig(encryption="tls")
    with pytest.raises(ConfigError, match="allowed_keys"):
        BrokerConfig(allowed_keys="/tmp")
    assert BrokerConfig(db="/srv/z/z.db").curve_path == Path("/srv/z/curve")
    assert BrokerConfig(data_dir="/d", db="/x/z.db").curve_path == Path("/d/curve")
    assert BrokerConfig(curve_dir="/k").curve_path == Path("/k")


def test_loopback_addresses_are_local() -> None:
    assert all(is_local(a) for a in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", None))
    assert not any(is_local(a) for a in ("192.0.2.2", "10.0.0.1", "::ffff:10.0.0.1", "x"))


def test_the_connect_form_checks_the_key_field() -> None:
    key = zmq.curve_keypair()[0].decode()
    assert check_server_key("", None) is None
    assert check_server_key("", key) == key
    assert check_server_key(f" {key} ", None) == key
    bad = check_server_key("nonsense", key)
    assert isinstance(bad, ConnectFailed)
    assert bad.field == "server_key"
