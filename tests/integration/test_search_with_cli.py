"""``zmqchat search --with USER`` and ``Client.search(with_user=...)`` against a real
broker with accounts: an account holder finds their own conversation across
sessions, nobody else's; without the password, a name finds nothing and is told why;
``--with`` without ``--user`` is a usage error."""

from __future__ import annotations

import json

import pytest
from tests.accounts_helpers import store_account
from tests.cli_helpers import run_cli

from zmqchat import Client
from zmqchat.broker.accounts import Hasher
from zmqchat.testing import BrokerProcess

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse"
CHEAP = Hasher(7168, 1)  # quick to check; each hash carries its parameters


def add_account(broker: BrokerProcess, name: str) -> None:
    store_account(broker, name, CHEAP.hash(PASSWORD))


def test_an_account_searches_its_own_conversation_and_nobody_elses(make_broker, tmp_path):
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    with (
        Client("dora", broker.endpoint, password=PASSWORD) as dora,
        Client("bob", broker.endpoint, rooms=["general"]) as bob,
    ):
        dora.pm("bob", "the invoice for March is paid")
        bob.pm("dora", "and the April invoice?")
        bob.send("general", "invoice talk in the room")
        found = dora.search("invoice", with_user="BOB")
        assert [(m.sender, m.text) for m in found.matches] == [
            ("bob", "and the April invoice?"),
            ("dora", "the invoice for March is paid"),
        ]
        assert found.with_user == "BOB"
        assert not found.more
        with Client("eve", broker.endpoint) as eve:
            assert eve.search("invoice", with_user="bob").matches == ()
            assert eve.search("invoice", with_user="dora").matches == ()
    port = str(broker.port)
    # A later session of the account: the whole conversation, newest first.
    hit = run_cli(
        tmp_path, "search", "--port", port, "--user", "dora", "--with", "bob", "--json",
        "march", ZMQCHAT_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert hit.returncode == 0, hit.stderr
    (line,) = hit.stdout.splitlines()
    assert json.loads(line)["text"] == "the invoice for March is paid"
    assert json.loads(line)["type"] == "pm"
    plain = run_cli(
        tmp_path, "search", "--port", port, "--user", "dora", "--with", "bob", "invoice",
        ZMQCHAT_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert [line.split(" ", 1)[1] for line in plain.stdout.splitlines()] == [
        "[pm from bob] and the April invoice?",
        "[pm to bob] the invoice for March is paid",
    ]
    # bob has no account: a fresh session of the name has exchanged nothing.
    miss = run_cli(tmp_path, "search", "--port", port, "--user", "bob", "--with", "dora", "invoice")
    assert (miss.returncode, miss.stdout) == (1, "")
    assert "own private messages" in miss.stderr, miss.stderr
    usage = run_cli(tmp_path, "search", "--port", port, "--with", "bob", "invoice")
    assert (usage.returncode, "--user" in usage.stderr) == (2, True), usage.stderr
    both = run_cli(tmp_path, "search", "--port", port, "--room", "x", "--with", "bob", "y")
    assert (both.returncode, "not allowed with" in both.stderr) == (2, True), both.stderr
