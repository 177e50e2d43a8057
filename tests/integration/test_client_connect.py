"""A client whose connect() fails leaves nothing open behind it."""

from __future__ import annotations

import pytest

from zmqchat import BrokerError, Client, Timeout

pytestmark = pytest.mark.timeout(30)


def test_a_refused_connect_releases_the_client(broker):
    with Client("alice", broker.endpoint):
        taken = Client("alice", broker.endpoint)
        with pytest.raises(BrokerError):
            taken.connect()
        assert taken._driver.closed  # sockets and wake-up pair released
        taken.close()  # still safe


def test_an_unanswered_connect_releases_the_client(make_broker):
    broker = make_broker()
    broker.kill()
    lonely = Client("alice", broker.endpoint, connect_timeout=0.3)
    with pytest.raises(Timeout):
        lonely.connect()
    assert lonely._driver.closed
