"""What crosses the wire, captured on loopback with tcpdump: a chat message's text
(and the password of a login) is readable in plaintext mode, and absent with CURVE.

Needs tcpdump and the right to capture (root, or CAP_NET_RAW); skipped otherwise.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from zmqchat import Client
from zmqchat.broker import accounts
from zmqchat.broker.accounts import Hasher
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = pytest.mark.timeout(60)


class Capture:
    """tcpdump on loopback for a broker's two ports, into a pcap file."""

    def __init__(self, path: Path, broker: BrokerProcess) -> None:
        tcpdump = shutil.which("tcpdump")
        if tcpdump is None:
            pytest.skip("tcpdump is not installed")
        self.path = path
        self.errors = path.with_suffix(".err")
        ports = f"tcp port {broker.port} or tcp port {broker.pub_port}"
        with self.errors.open("wb") as err:
            self.process = subprocess.Popen(
                # Immediate mode: packets reach tcpdump as they come, not in
                # batches a SIGINT would cut short.
                [tcpdump, "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", str(path), ports],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

        def listening() -> bool:
            if self.process.poll() is not None:
                text = self.errors.read_text(errors="replace").strip()
                pytest.skip(f"tcpdump cannot capture here: {text}")
            return "listening on" in self.errors.read_text(errors="replace")

        wait_until(listening, 10, "tcpdump listening")

    def read(self) -> bytes:
        return self.path.read_bytes()

    def stop(self) -> bytes:
        """End the capture; its raw bytes (the packets' payloads among them)."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(10)
        return self.path.read_bytes()


def chat_under_capture(
    broker: BrokerProcess, tmp_path: Path, readable: bool, **options: Any
) -> tuple[bytes, str]:
    """Log alice in with her password and have her chat to bob, under capture. When
    the text should be ``readable``, wait for tcpdump to have written it (the same
    traffic shows the capture works when it should not be)."""
    text = f"capture-probe-{secrets.token_hex(8)}"
    capture = Capture(tmp_path / f"{broker.directory.name}.pcap", broker)
    try:
        with (
            Client("alice", broker.endpoint, password="correct horse", **options) as alice,
            Client("bob", broker.endpoint, **options) as bob,
        ):
            alice.send("general", text)
            expect(bob, "chat", text=text)  # it crossed both sockets
        if readable:
            wait_until(lambda: text.encode() in capture.read(), 10, "the text captured")
    finally:
        packets = capture.stop()
    return packets, text


@pytest.mark.parametrize("encryption", ["none", "curve"])
def test_the_text_and_password_are_on_the_wire_only_without_curve(
    tmp_path: Path, encryption: str
) -> None:
    broker = BrokerProcess(
        tmp_path / encryption, settings={"encryption": encryption, "auth": "accounts"}
    )
    broker.start()
    try:
        with sqlite3.connect(broker.db) as db:
            accounts.insert(db, "alice", Hasher(7168, 1).hash("correct horse"), time.time())
        options = {"server_key": broker.public_key} if encryption == "curve" else {}
        readable = encryption == "none"
        packets, text = chat_under_capture(broker, tmp_path, readable, **options)
    finally:
        broker.stop()
    assert len(packets) > 2000  # the capture saw the traffic (handshakes, frames)
    assert (text.encode() in packets) is readable
    assert (b"correct horse" in packets) is readable
