"""The mailbox's part of the store: a version 3 store gets `pms.convo` and
`pms.queued` as it opens, with the conversation key filled in for old pms; a
conversation and a mailbox are index range scans; queued pms and their delivery."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tests.unit.test_handlers import Broker, pm

from zmqchat.broker.mailbox import Mailboxes, convo_key
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.broker.state import Session
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig


def test_a_version_3_store_gets_the_mailbox_columns_as_it_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    conn = open_database(path, fsync=False)
    # What a store written by the release before mailboxes looks like.
    conn.executescript(
        "DROP INDEX pms_convo; DROP INDEX pms_mailbox;"
        " ALTER TABLE pms DROP COLUMN convo; ALTER TABLE pms DROP COLUMN queued;"
        " PRAGMA user_version=3;"
    )
    conn.execute(
        "INSERT INTO pms (id, ts, sender, sender_key, recipient, recipient_key, text)"
        " VALUES (1, 1.0, 'Zed', 'zed', 'Amy', 'amy', 'hi'),"
        " (2, 2.0, 'Amy', 'amy', 'Zed', 'zed', 'yo')"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        rows = db.execute("SELECT id, convo, queued FROM pms ORDER BY id").fetchall()
        assert rows == [(1, "amy zed", None), (2, "amy zed", None)]
        plan = " ".join(
            str(row[-1])
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM pms WHERE convo = ? ORDER BY id DESC",
                ("amy zed",),
            )
        )
        assert "pms_convo" in plan
        assert "SORT" not in plan  # the index gives the order
        plan = " ".join(
            str(row[-1])
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM pms WHERE queued = 1"
                " AND recipient_key = ?",
                ("amy",),
            )
        )
        assert "pms_mailbox" in plan
    store = Store(path)  # and the store numbers on past the old ids
    assert store.add_pm(3.0, "Amy", "Zed", "x", None, 1, None, None, queued=True) == 3
    store.close()


def test_queued_pms_are_handed_over_in_order_and_marked(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store.db"))
    out = Outbox()
    boxes = Mailboxes(store, out, limit=10)
    ids = [
        store.add_pm(float(n), "amy", "Zed", f"m{n}", None, 7, None, n, queued=True)
        for n in range(3)
    ]
    store.add_pm(9.0, "amy", "bob", "not zed's", None, 7, None, 9, queued=True)
    assert boxes.waiting("zed") == 3
    zed = Session(sid=8, token="t", user="Zed", key="zed", rid=b"r", last_seen=0.0)
    assert boxes.deliver(zed, 0.0) == 3
    assert [pm_id for _, pm_id, _ in out.mail] == ids
    boxes.delivered([(pm_id, sid) for _, pm_id, sid in out.mail])
    store.commit()
    assert boxes.waiting("zed") == 0
    assert boxes.waiting("bob") == 1
    events, more = boxes.conversation("zed", "amy", 0.0, None, None, 2)
    assert ([e.text for e in events], more) == (["m1", "m2"], True)
    assert convo_key("zed", "amy") == convo_key("amy", "zed") == "amy zed"
    store.close()


def test_a_pm_an_account_holder_could_not_be_handed_is_queued(tmp_path: Path) -> None:
    broker = Broker(str(tmp_path / "broker.db"), config=BrokerConfig(auth="accounts"))
    try:
        broker.register(b"A", "alice")
        broker.register(b"B", "bob")  # before bob's name got an account
        assert broker.store.add_account("bob", "$h", broker.wall - 1) is not None
        broker.store.commit()
        broker.core.handle(b"A", encode(pm("bob", "kept", ref=4)), broker.now)
        (delivery,) = broker.core.out.pms
        # The server could not hand it over (bob's link went down meanwhile).
        ack = decode(broker.core.undelivered(delivery))
        assert (ack["type"], ack["status"], ack["id"], ack["ref"]) == (
            "ack",
            "queued",
            delivery.pm_id,
            4,
        )
        broker.core.out.clear()
        broker.store.commit()
        assert broker.core.mailboxes.waiting("bob") == 1
        # A retry is acked the same way, not as delivered.
        replies, _ = broker.handle(b"A", pm("bob", "kept", ref=4))
        assert [(m["status"], m["id"]) for m in replies[b"A"]] == [("queued", delivery.pm_id)]
    finally:
        broker.close()
