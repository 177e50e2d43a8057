"""Mailboxes on a real broker: a pm to an offline account holder is acked `queued`
and handed over in order after the welcome of their next login; the bound
(`mailbox_full`); queued pms across a broker stopped or killed; `history with` of an
account across sessions and restarts; open mode and names without an account
unchanged (`user_offline`)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.accounts_helpers import delete_account, store_account
from tests.helpers import RawPeer

from zmqchat.broker.accounts import Hasher
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse"
CHEAP = Hasher(7168, 1)  # quick to check; each hash carries its parameters


def add_account(broker: BrokerProcess, name: str) -> None:
    store_account(broker, name, CHEAP.hash(PASSWORD))


def login(broker: BrokerProcess, user: str) -> tuple[RawPeer, list[dict[str, Any]]]:
    """Log ``user`` in with the password; returns the peer and the pm frames that
    follow the welcome (until the broker has been quiet for a moment)."""
    peer = RawPeer(broker.endpoint)
    peer.register(user, password=PASSWORD)
    return peer, drain(peer)


def drain(peer: RawPeer) -> list[dict[str, Any]]:
    """The frames a peer gets until a ping's reply (the broker answers in order, so
    every pm sent before that reply has arrived)."""
    ref = "drain"
    peer.send({"type": "ping", "ref": ref})
    frames: list[dict[str, Any]] = []

    def pong() -> bool:
        frame = peer.poll()
        if frame is None:
            return False
        if frame.get("ref") == ref:
            return True
        frames.append(frame)
        return False

    wait_until(pong, 10, "the ping's reply", interval=0)
    return frames


def pm(peer: RawPeer, to: str, text: str) -> dict[str, Any]:
    return peer.request({"type": "pm", "to": to, "text": text})


def queue(sender: RawPeer, to: str, texts: list[str]) -> list[int]:
    ids = []
    for text in texts:
        ack = pm(sender, to, text)
        assert (ack["type"], ack["status"], ack["to"]) == ("ack", "queued", to.lower()), ack
        ids.append(ack["id"])
    return ids


def test_a_pm_to_an_offline_account_holder_waits_for_their_login(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    alice = RawPeer(broker.endpoint)
    alice.register("alice")
    ids = queue(alice, "Dora", ["one", "two", "three"])  # any case; acked as created
    assert ids == sorted(ids)

    dora = RawPeer(broker.endpoint)
    # The welcome comes first, then the queued pms, oldest first.
    dora.send({"type": "register", "user": "dora", "proto": 1, "password": PASSWORD})
    assert dora.recv()["type"] == "welcome"
    got = drain(dora)
    assert [(f["type"], f["id"], f["text"], f["from"]) for f in got] == [
        ("pm", i, t, "alice") for i, t in zip(ids, ["one", "two", "three"], strict=True)
    ]
    # Online now: straight through, and nothing waits any more.
    ack = pm(alice, "dora", "four")
    assert ack["status"] == "delivered"
    assert [f["text"] for f in drain(dora)] == ["four"]
    dora.request({"type": "bye"})
    dora.close()
    again, got = login(broker, "dora")
    assert got == []
    again.close()
    alice.close()


def test_the_mailbox_is_bounded(make_broker: Any) -> None:
    broker = make_broker(auth="accounts", mailbox_limit=2)
    add_account(broker, "dora")
    alice = RawPeer(broker.endpoint)
    alice.register("alice")
    queue(alice, "dora", ["a", "b"])
    full = pm(alice, "dora", "c")
    assert full["type"] == "error"
    assert full["code"] == "mailbox_full"
    dora, got = login(broker, "dora")
    assert [f["text"] for f in got] == ["a", "b"]
    dora.request({"type": "bye"})
    queue(alice, "dora", ["d"])  # emptied by the delivery
    dora.close()
    alice.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_queued_pms_outlive_a_restart(make_broker: Any, how: str) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    alice = RawPeer(broker.endpoint)
    alice.register("alice")
    dora, _ = login(broker, "dora")
    dora.request({"type": "bye"})
    dora.close()
    ids = queue(alice, "dora", [f"m{n}" for n in range(5)])
    getattr(broker, how)()  # every ack meant stored
    broker.start()

    dora, got = login(broker, "dora")
    assert [f["id"] for f in got] == ids
    dora.close()  # no bye: the session waits, detached, for a resume or a login
    getattr(broker, how)()
    broker.start()
    # Marked delivered after the send: a kill may beat that write, and then the
    # same ids come again, which the client drops. Never another id, never fewer.
    later = RawPeer(broker.endpoint)
    later.send({"type": "register", "user": "dora", "proto": 1, "password": PASSWORD})
    assert later.recv()["type"] == "welcome"
    again = [f["id"] for f in drain(later)]
    if how == "stop":
        assert again == []
    else:
        assert again in ([], ids)
    # A pm to the detached session of an account holder is queued too.
    later.close()
    alice.close()
    alice = RawPeer(broker.endpoint)
    alice.register("alice2")
    broker.stop()
    broker.start()  # dora's session is restored detached
    alice.register("alice2", resume=alice.welcome["session"])
    ack = pm(alice, "dora", "while detached")
    assert ack["status"] == "queued", ack
    dora, got = login(broker, "dora")
    assert [f["text"] for f in got if f["id"] not in ids] == ["while detached"]
    dora.close()
    alice.close()


def test_history_with_is_the_whole_conversation_of_an_account(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    alice = RawPeer(broker.endpoint)
    alice.register("alice")
    queue(alice, "dora", ["queued"])
    dora, _ = login(broker, "dora")
    assert pm(dora, "alice", "first session")["status"] == "delivered"
    dora.request({"type": "bye"})
    dora.close()
    dora, _ = login(broker, "dora")  # a second session
    assert pm(alice, "dora", "second session")["status"] == "delivered"
    dora.close()
    broker.kill()
    broker.start()
    dora, _ = login(broker, "dora")
    page = dora.request({"type": "history", "with": "ALICE"})
    assert [m["text"] for m in page["messages"]] == ["queued", "first session", "second session"]
    assert page["more"] is False
    older = dora.request({"type": "history", "with": "alice", "limit": 1, "before": 10**9})
    assert [m["text"] for m in older["messages"]] == ["second session"]
    assert older["more"] is True
    # Alice has no account: only what her session exchanged, and a new one has
    # exchanged nothing.
    alice.register("alice", resume=alice.welcome["session"])
    assert len(alice.request({"type": "history", "with": "dora"})["messages"]) == 3
    alice.request({"type": "bye"})
    alice.close()
    alice = RawPeer(broker.endpoint)
    alice.register("alice")
    assert alice.request({"type": "history", "with": "dora"})["messages"] == []
    alice.close()
    dora.close()


def test_what_a_name_got_before_its_account_is_not_its_history(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    alice = RawPeer(broker.endpoint)
    alice.register("alice")
    earlier = RawPeer(broker.endpoint)
    earlier.register("dora")  # no account yet: anyone may use the name
    assert pm(alice, "dora", "to whoever was dora")["status"] == "delivered"
    earlier.request({"type": "bye"})
    earlier.close()
    add_account(broker, "dora")
    dora, got = login(broker, "dora")
    assert got == []
    assert dora.request({"type": "history", "with": "alice"})["messages"] == []
    dora.request({"type": "bye"})
    dora.close()
    # Nor what waited for an account deleted and added again: another holder's.
    queue(alice, "dora", ["for the first dora"])
    delete_account(broker, "dora")
    add_account(broker, "dora")
    dora, got = login(broker, "dora")
    assert got == []
    assert dora.request({"type": "history", "with": "alice"})["messages"] == []
    dora.close()
    alice.close()


def test_without_an_account_a_pm_to_someone_offline_is_refused(make_broker: Any) -> None:
    for auth in ("open", "accounts"):
        broker = make_broker(auth=auth)
        if auth == "open":
            add_account(broker, "dora")  # open mode ignores accounts
        alice = RawPeer(broker.endpoint)
        alice.register("alice")
        dora = RawPeer(broker.endpoint)
        dora.register("dora")
        dora.request({"type": "bye"})
        dora.close()
        refused = pm(alice, "dora", "hello?")
        assert (refused["type"], refused["code"]) == ("error", "user_offline"), refused
        alice.close()
