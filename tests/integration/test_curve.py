"""CURVE on a real broker: its key pair made on first start and printed at every
start, clients with the right key, a wrong key or none, trust on first use, an
allowed-keys directory, sessions bound to the client key, and passwords refused
over plaintext from another machine's address (`encryption_required`)."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from tests.cli_helpers import run_cli

from zmqchat import BrokerError, Client, ServerKeyChanged, Timeout
from zmqchat.broker import accounts
from zmqchat.broker.accounts import Hasher
from zmqchat.client.chat.failures import classify
from zmqchat.common.curve import create_key_pair
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse"


def curve_peer(endpoint: str, server_key: str, pair: tuple[bytes, bytes] | None = None) -> Any:
    """A bare DEALER speaking CURVE with key ``pair`` (a fresh one by default)."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    public, secret = pair or zmq.curve_keypair()
    sock.curve_serverkey = server_key.encode()
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.connect(endpoint)
    return sock


def request(sock: Any, msg: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    sock.send(msgpack.packb({"proto": 1, **msg}))
    if not sock.poll(int(timeout * 1000)):
        return None
    reply: dict[str, Any] = msgpack.unpackb(sock.recv(), raw=False)
    return reply


def other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        address: str = s.getsockname()[0]
        if not address.startswith("127."):
            return address
    return None


def test_the_broker_makes_its_keys_once_and_prints_the_public_one_every_start(
    make_broker: Any,
) -> None:
    broker = make_broker(encryption="curve")
    curve = broker.directory / "curve"
    secret = curve / "broker.key_secret"
    assert (curve / "broker.key").is_file()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    key = broker.public_key
    assert key is not None
    assert len(key) == 40
    line = f"public key: {key}"
    wait_until(lambda: line in broker.log_file.read_text(), 5, "the key printed")
    broker.stop()
    broker.start()
    assert broker.public_key == key  # the same pair, not a new one
    wait_until(lambda: broker.log_file.read_text().count(line) == 2, 5, "printed again")


def test_clients_with_the_broker_key_chat_and_plaintext_ones_get_nowhere(
    make_broker: Any,
) -> None:
    broker = make_broker(encryption="curve")
    key = broker.public_key
    with (
        Client("alice", broker.endpoint, server_key=key) as alice,
        Client("bob", broker.endpoint, server_key=key) as bob,
    ):
        assert alice.encrypted
        alice.send("general", "over CURVE")
        expect(bob, "chat", room="general", text="over CURVE")  # through the PUB too
    plain = Client("carol", broker.endpoint, connect_timeout=1.0)
    with pytest.raises(Timeout) as caught:
        plain.connect()
    assert caught.value.hint is None  # no key given: nothing to blame it on
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(broker.endpoint)
    sock.send(msgpack.packb({"type": "register", "user": "dave", "proto": 1}))
    assert not sock.poll(500)
    sock.close()


def test_a_wrong_server_key_is_named_within_the_connect_timeout(make_broker: Any) -> None:
    broker = make_broker(encryption="curve")
    wrong = zmq.curve_keypair()[0].decode()
    client = Client("alice", broker.endpoint, server_key=wrong, connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(Timeout) as caught:
        client.connect()
    assert time.monotonic() - started < 3.0
    failure = classify(caught.value, endpoint=broker.endpoint, connect_timeout=1.0)
    assert "wrong server key is the likely cause" in failure.message
    assert failure.field == "server_key"


def test_the_first_key_is_remembered_and_a_changed_one_refused(
    make_broker: Any, tmp_path: Path
) -> None:
    broker = make_broker(encryption="curve")
    key = broker.public_key
    known = tmp_path / "data" / "known_brokers"
    with Client("alice", broker.endpoint, server_key=key, known_brokers=known):
        pass
    assert known.read_text() == f"127.0.0.1:{broker.port} {key}\n"
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    with Client("alice", broker.endpoint, known_brokers=known) as again:  # no key given
        assert again.encrypted
    impostor = zmq.curve_keypair()[0].decode()
    with pytest.raises(ServerKeyChanged, match="remove its line from"):
        Client("alice", broker.endpoint, server_key=impostor, known_brokers=known)

    # The commands: remembered in the user's data dir, then used without the flag.
    port = str(broker.port)
    first = run_cli(tmp_path, "send", "--port", port, f"--server-key={key}", "--room", "g", "hi")
    assert first.returncode == 0, first.stderr
    assert key in (tmp_path / "data" / "zmqchat" / "known_brokers").read_text()
    second = run_cli(tmp_path, "send", "--port", port, "--room", "g", "again")
    assert second.returncode == 0, second.stderr
    changed = run_cli(tmp_path, "who", "--port", port, f"--server-key={impostor}")
    assert changed.returncode != 0
    assert "known with another key" in changed.stderr


def test_only_clients_whose_key_is_allowed_get_in(make_broker: Any, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    made = run_cli(tmp_path, "keygen", "--dir", str(tmp_path / "mine"), "--name", "alice")
    assert made.returncode == 0, made.stderr
    secret = tmp_path / "mine" / "alice.key_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    allowed.mkdir()
    (allowed / "alice.key").write_bytes((tmp_path / "mine" / "alice.key").read_bytes())
    broker = make_broker(encryption="curve", allowed_keys=str(allowed))
    key = broker.public_key
    with Client("alice", broker.endpoint, server_key=key, client_key=secret) as alice:
        alice.ping()
    stranger = Client("mallory", broker.endpoint, server_key=key, connect_timeout=1.0)
    with pytest.raises(Timeout):
        stranger.connect()


def test_a_session_is_bound_to_the_client_key(make_broker: Any, tmp_path: Path) -> None:
    broker = make_broker(encryption="curve")
    key = broker.public_key
    _, secret_file = create_key_pair(tmp_path, "alice")
    pair = zmq.auth.load_certificate(secret_file)
    with Client("alice", broker.endpoint, server_key=key, client_key=secret_file) as alice:
        token = alice.session
        resume = {"type": "register", "user": "alice", "resume": token}
        thief = curve_peer(broker.endpoint, key)
        try:
            refused = request(thief, resume)
        finally:
            thief.close()
        assert refused is not None
        assert refused["code"] == "name_taken"
        alice.ping()  # still alice's
        owner = curve_peer(broker.endpoint, key, (pair[0], pair[1] or b""))
        try:
            resumed = request(owner, resume)  # the same key on a new connection
        finally:
            owner.close()
        assert resumed is not None
        assert resumed["type"] == "welcome"


def test_a_password_over_plaintext_from_another_address_is_refused(tmp_path: Path) -> None:
    address = other_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    made = []
    try:
        for name, settings in [
            ("plain", {"auth": "accounts"}),
            ("curve", {"auth": "accounts", "encryption": "curve"}),
        ]:
            broker = BrokerProcess(tmp_path / name, settings=settings, bind_host="0.0.0.0")
            made.append(broker.start())
            with sqlite3.connect(broker.db) as db:
                accounts.insert(db, "alice", Hasher(7168, 1).hash(PASSWORD), time.time())
        plain, curve = made
        remote = f"tcp://{address}:{plain.port}"
        with pytest.raises(BrokerError) as caught:
            Client("alice", remote, password=PASSWORD).connect()
        assert caught.value.code == "encryption_required"
        assert f"from {address}" in str(caught.value)
        with Client("alice", plain.endpoint, password=PASSWORD) as local:  # loopback
            local.ping()
        remote = f"tcp://{address}:{curve.port}"
        with Client("alice", remote, password=PASSWORD, server_key=curve.public_key) as alice:
            alice.ping()
    finally:
        for broker in made:
            broker.stop()
