"""The GUI's view-model against a real broker, without a screen: conversations,
history and paging, unread counts, members, refused messages, the connect form's
errors, reconnection, and bye. The Tk thread's part is played by ``drain()``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq
from tests.helpers import RawPeer
from tests.integration.test_accounts import PASSWORD, add_account

from zmqchat import ChatEvent, Client, PmEvent
from zmqchat.client.gui.prefs import LastConnect
from zmqchat.client.gui.viewmodel import Changes, ChatViewModel
from zmqchat.common.config import ClientConfig
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = pytest.mark.timeout(60)


class Driven:
    """A view-model whose queue is drained as the Tk loop would; every Changes
    returned is kept."""

    def __init__(self, broker: BrokerProcess, **options: Any) -> None:
        timeout = options.pop("connect_timeout", 5.0)
        self.config = ClientConfig(port=broker.port, connect_timeout=timeout)
        self.remembered: list[LastConnect] = []
        self.vm = ChatViewModel(self.config, remember=self.remembered.append, **options)
        self.changes: list[Changes] = []

    def connect(
        self, user: str, port: int | None = None, password: str = "", server_key: str = ""
    ) -> Changes:
        where = str(port or self.config.port)
        problem = self.vm.connect(user, "127.0.0.1", where, password, server_key)
        assert problem is None, problem
        return self.until(lambda c: c.connected or c.connect_failed, what="the connect outcome")

    def until(
        self, predicate: Callable[[Changes], object], timeout: float = 10.0, what: str = ""
    ) -> Changes:
        """Drain until a Changes satisfies ``predicate``; returns it."""

        def drained() -> Changes | None:
            changes = self.vm.drain()
            self.changes.append(changes)
            return changes if predicate(changes) else None

        def shown() -> str:
            texts = {key: self.texts(key)[-6:] for key in self.vm.transcripts}
            return f"{what}; shown: {texts}"

        return wait_until(drained, timeout, shown)

    def texts(self, key: str) -> list[str]:
        transcript = self.vm.transcripts.get(key)
        return [row.text for row in transcript.rows] if transcript else []

    def shows(self, key: str, text: str, timeout: float = 10.0) -> None:
        self.until(lambda _: any(text in t for t in self.texts(key)), timeout, f"{text!r} in {key}")

    def close(self) -> None:
        self.vm.close()
        assert self.vm.closed.wait(10)


@pytest.fixture
def driven() -> Iterator[list[Driven]]:
    made: list[Driven] = []
    yield made
    for run in made:
        run.close()


def start(broker: BrokerProcess, driven: list[Driven], user: str = "alice", **options: Any):
    run = Driven(broker, **options)
    driven.append(run)
    assert run.connect(user).connected is not None
    return run


def said(texts: list[str], sender: str = "bob") -> list[str]:
    return [t.split(f"<{sender}> ", 1)[1] for t in texts if f"<{sender}> " in t]


def test_a_room_shows_its_history_then_live_lines_members_and_what_we_say(broker, driven):
    with Client("bob", broker.endpoint) as bob:
        for n in range(60):
            bob.send("general", f"old {n}")
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general with bob (2 here)")
        rows = list(alice.vm.transcripts["#general"].rows)
        history = [row for row in rows if row.has_tag("history")]
        # The last 50 messages, marked as history, then the line that ends them.
        assert said([row.text for row in history]) == [f"old {n}" for n in range(10, 60)]
        assert rows[: len(history)] == history
        ending = rows[len(history)]
        assert "end of history" in ending.text
        assert ending.has_tag("history.banner")
        assert alice.remembered == [LastConnect("alice", "127.0.0.1", broker.port)]
        snap = alice.vm.snapshot
        assert [c.key for c in snap.conversations] == ["#general"]
        assert snap.viewing == "#general"
        assert snap.members == ("alice", "bob")
        assert alice.vm.status() == (
            f"alice  │  127.0.0.1:{broker.port}  │  connected",
            "connected",
        )

        bob.send("general", "hi alice")
        alice.shows("#general", "<bob> hi alice")
        live = alice.vm.transcripts["#general"].rows[-1]
        assert not live.has_tag("history")
        assert any(tags and tags[0].startswith("nick.c") for _, tags in live.parts)

        assert alice.vm.submit("hello سلام 👋")
        assert expect(bob, ChatEvent, sender="alice").text == "hello سلام 👋"
        alice.shows("#general", "<alice> hello سلام 👋")

        with Client("carol", broker.endpoint):
            alice.until(lambda _: "carol" in alice.vm.snapshot.members, what="carol joins")
            alice.shows("#general", "→ carol joined")
            assert alice.vm.transcripts["#general"].rows[-1].has_tag("presence")
        alice.until(lambda _: "carol" not in alice.vm.snapshot.members, what="carol leaves")
        alice.shows("#general", "← carol left")


def test_unread_counts_and_private_conversations(broker, driven):
    with Client("bob", broker.endpoint, rooms=["general", "dev"]) as bob:
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general")
        alice.vm.submit("/join dev")
        alice.shows("#dev", "you are in #dev with bob (2 here)")
        alice.until(lambda _: alice.vm.snapshot.viewing == "#dev", what="#dev current")
        bob.send("general", "while you were in dev")
        alice.until(lambda _: unread(alice) == {"#general": 1, "#dev": 0}, what="unread")
        assert alice.vm.title() == "(1) #dev — zmqchat"

        bob.pm("alice", "psst")
        alice.shows("@bob", "<bob> psst")
        alice.until(lambda _: unread(alice).get("@bob") == 1, what="a pm counted")
        assert alice.vm.select("@bob")
        assert unread(alice)["@bob"] == 0
        assert alice.vm.snapshot.members == ("alice", "bob")
        # In a private conversation a plain line is a private message.
        alice.vm.submit("just for you")
        assert expect(bob, PmEvent).text == "just for you"
        alice.shows("@bob", "<alice> just for you")

        assert alice.vm.select("#general")
        assert unread(alice) == {"#general": 0, "#dev": 0, "@bob": 0}

        # Opening a conversation from the member list; closing one.
        with Client("carol", broker.endpoint):
            alice.until(lambda _: "carol" in alice.vm.snapshot.members, what="carol")
            assert alice.vm.open_private("carol") == "@carol"
            assert alice.vm.open_private("alice") is None  # not with ourselves
            assert alice.vm.snapshot.viewing == "@carol"
            alice.vm.submit("hi carol")
            alice.shows("@carol", "<alice> hi carol")
        alice.vm.leave("@carol")
        alice.until(lambda c: "@carol" in c.removed or "@carol" not in alice.vm.transcripts)
        assert "@carol" not in unread(alice)
        alice.vm.leave("#dev")
        alice.until(lambda _: "#dev" not in alice.vm.transcripts, what="#dev gone")
        assert [c.key for c in alice.vm.snapshot.conversations] == ["#general", "@bob"]


def test_a_private_window_opens_with_the_conversation_so_far(make_broker, driven):
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    with Client("alice", broker.endpoint) as alice:
        with Client("dora", broker.endpoint, password=PASSWORD) as earlier:
            alice.pm("dora", "from an earlier session")
            earlier.pm("alice", "and its answer")
        dora = Driven(broker)
        driven.append(dora)
        assert dora.connect("dora", password=PASSWORD).connected is not None
        assert dora.vm.open_private("alice") == "@alice"
        dora.shows("@alice", "and its answer")
        texts = dora.texts("@alice")
        first = next(n for n, t in enumerate(texts) if "from an earlier session" in t)
        assert first < next(n for n, t in enumerate(texts) if "and its answer" in t)


def unread(run: Driven) -> dict[str, int]:
    return {c.key: c.unread for c in run.vm.snapshot.conversations}


def test_a_refused_message_is_an_error_line_and_the_text_comes_back(broker, driven):
    alice = start(broker, driven)
    alice.shows("#general", "you are in #general")
    long = "x" * 5000
    alice.vm.submit(long)
    changes = alice.until(lambda c: c.restore is not None, what="the text given back")
    assert changes.restore == long
    alice.shows("#general", "(too_long)")
    assert alice.vm.transcripts["#general"].rows[-1].has_tag("error")
    alice.vm.submit("/msg nobody hi")
    assert alice.until(lambda c: c.restore is not None).restore == "/msg nobody hi"
    alice.shows("#general", "(no_such_user)")
    # A command that is not a message gives nothing back, only says what is wrong.
    alice.vm.submit("/bogus")
    alice.shows("#general", "unknown command /bogus")
    assert not any(c.restore == "/bogus" for c in alice.changes)


def test_history_pages_back_within_a_bounded_scrollback(make_broker, driven):
    broker = make_broker(rate_limit=0)
    with Client("bob", broker.endpoint) as bob:
        futures = [bob.send_async("general", f"m{n}") for n in range(300)]
        for future in futures:
            future.result(10)
        alice = start(broker, driven, scrollback=140, page=50)
        alice.shows("#general", "you are in #general")
        assert said(alice.texts("#general")) == [f"m{n}" for n in range(250, 300)]
        assert alice.vm.load_older("#general")
        assert not alice.vm.load_older("#general")  # one page at a time
        changes = alice.until(lambda c: "#general" in c.prepended, what="an older page")
        assert said([row.text for row in changes.prepended["#general"]]) == [
            f"m{n}" for n in range(200, 250)
        ]
        assert said(alice.texts("#general")) == [f"m{n}" for n in range(200, 300)]
        # The next page only fills the scrollback up to its bound, then stops.
        assert alice.vm.load_older("#general")
        alice.until(lambda c: "#general" in c.prepended, what="a second page")
        assert len(alice.texts("#general")) == 140
        assert said(alice.texts("#general"))[-1] == "m299"
        assert not alice.vm.load_older("#general")
        # Live lines push the oldest out: memory stays flat.
        for future in [bob.send_async("general", f"new{n}") for n in range(200)]:
            future.result(10)
        alice.shows("#general", "<bob> new199")
        texts = alice.texts("#general")
        assert len(texts) == 140
        assert said(texts)[-140:] == [f"new{n}" for n in range(60, 200)]


def test_the_first_page_back_reaches_the_beginning(broker, driven):
    with Client("bob", broker.endpoint) as bob:
        for n in range(55):
            bob.send("general", f"m{n}")
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general")
        assert alice.vm.load_older("#general")
        changes = alice.until(lambda c: "#general" in c.prepended, what="the rest")
        assert "#general: the beginning" in changes.prepended["#general"][0].text
        assert said(alice.texts("#general")) == [f"m{n}" for n in range(55)]
        assert not alice.vm.load_older("#general")


def test_a_broker_restart_is_shown_and_the_gap_filled_once(make_broker, driven):
    broker = make_broker()
    alice = start(broker, driven)
    alice.shows("#general", "you are in #general")
    with Client("bob", broker.endpoint) as bob:
        alice.shows("#general", "→ bob joined")
        for n in range(3):
            bob.send("general", f"before {n}")
        alice.shows("#general", "<bob> before 2")
        broker.kill()  # down until it is seen: a restart may be quicker than a look
        alice.until(lambda _: alice.vm.status()[1] == "reconnecting", 15, "reconnecting")
        broker.start()
        assert "reconnecting…" in alice.vm.status()[0]
        alice.shows("#general", "connection lost")
        wait_until(lambda: bob.state == "connected", 15, "bob back")
        for n in range(3):
            bob.send("general", f"after {n}")
        alice.shows("#general", "reconnected (session resumed)", 15)
        alice.until(lambda _: alice.vm.status()[1] == "connected", 15, "connected")
        expected = [f"before {n}" for n in range(3)] + [f"after {n}" for n in range(3)]
        alice.until(lambda _: said(alice.texts("#general")) == expected, 15, "no gap")
        bob.send("general", "last")
        alice.shows("#general", "<bob> last")
        assert said(alice.texts("#general")) == [*expected, "last"]


def test_text_this_tk_cannot_draw_is_replaced_in_the_view_only(broker, driven):
    with Client("bob", broker.endpoint) as bob:
        alice = start(broker, driven, policy="bmp")
        alice.shows("#general", "you are in #general")
        bob.send("general", "سلام دنیا 👋!")
        alice.shows("#general", "<bob> سلام دنیا \ufffd!")
        alice.vm.submit("emoji 😀 sent as typed")
        assert expect(bob, ChatEvent, sender="alice").text == "emoji 😀 sent as typed"


def test_a_line_typed_after_the_session_was_taken_over_says_why_it_failed(broker, driven):
    alice = start(broker, driven)
    alice.shows("#general", "you are in #general")
    thief = RawPeer(broker.endpoint)
    try:
        thief.register("alice", resume=alice.vm.client.session)
        alice.until(lambda c: c.ended is not None, what="the end of the session")
        alice.vm.submit("still here?")
        assert alice.until(lambda c: c.restore is not None).restore == "still here?"
        # The words every front end uses for a closed connection.
        why = "replaced by another connection of the same session"
        alice.shows("#general", f"!!! connection closed: {why}")
    finally:
        thief.close()


def test_the_connect_form_learns_why_a_connect_failed(make_broker, driven):
    broker = make_broker()
    with Client("alice", broker.endpoint):
        run = Driven(broker)
        driven.append(run)
        failed = run.connect("alice").connect_failed
        assert failed is not None
        assert failed.field == "user"
        assert "name_taken" in failed.message
        failed = run.connect("no spaces").connect_failed
        assert failed is not None
        assert (failed.field, "invalid_name" in failed.message) == ("user", True)
        # Mistakes the form finds without asking the broker, beside their field.
        for user, host, port, field in [
            ("bob", "127.0.0.1", "99999", "port"),
            ("bob", "127.0.0.1", "port", "port"),
            ("bob", "not a host", "5555", "host"),
            ("  ", "127.0.0.1", "5555", "user"),
        ]:
            problem = run.vm.connect(user, host, port)
            assert problem is not None
            assert problem.field == field
        # The same form, another name: it works.
        assert run.connect("carol").connected is not None
        run.shows("#general", "you are in #general with alice (2 here)")

    dead = make_broker()
    dead.kill()  # its port is known and nothing listens there now
    late = Driven(dead, connect_timeout=0.5)
    driven.append(late)
    failed = late.connect("dave").connect_failed
    assert failed is not None
    assert failed.field == "host"
    # The same words as the console and the one-shot commands.
    where = f"127.0.0.1:{dead.port}"
    assert (
        failed.message == f"broker unreachable: no zmqchat broker answered at {where} within 0.5s"
        " (an encrypted broker also needs its server key)"
    )


def test_the_connect_form_takes_a_password_and_says_why_it_failed_beside_it(make_broker, driven):
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    run = Driven(broker)
    driven.append(run)
    failed = run.connect("alice").connect_failed
    assert failed is not None
    assert failed.field == "password"
    assert failed.message == "alice has an account: give its password (auth_failed)"
    failed = run.connect("alice", password="wrong horse").connect_failed
    assert failed is not None
    assert (failed.field, failed.message) == ("password", "wrong password for alice (auth_failed)")
    too_long = run.vm.connect("alice", "127.0.0.1", str(broker.port), "x" * 1025)
    assert too_long is not None
    assert too_long.field == "password"
    assert run.connect("alice", password=PASSWORD).connected is not None
    # What is remembered for the next run holds no password.
    assert run.remembered == [LastConnect("alice", "127.0.0.1", broker.port)]

    # A password given without asking (a password file, ZMQCHAT_PASSWORD) is used
    # when the field is left empty.
    add_account(broker, "bob")
    given = Driven(broker, password=PASSWORD)
    driven.append(given)
    assert given.connect("bob").connected is not None


def test_closing_says_bye_and_the_name_is_free_at_once(broker):
    run = Driven(broker)
    assert run.connect("alice").connected is not None
    run.shows("#general", "you are in #general")
    run.close()
    with Client("alice", broker.endpoint, connect_timeout=2) as again:
        assert again.user == "alice"


def test_the_connect_form_takes_the_server_key_and_names_it_when_wrong(
    make_broker, driven, tmp_path
):
    broker = make_broker(encryption="curve")
    known = tmp_path / "known_brokers"
    run = Driven(broker, connect_timeout=1.0, known_brokers=known)
    driven.append(run)
    problem = run.vm.connect("alice", "127.0.0.1", str(broker.port), "", "not a key")
    assert problem is not None
    assert problem.field == "server_key"
    wrong = zmq.curve_keypair()[0].decode()
    failed = run.connect("alice", server_key=wrong).connect_failed
    assert failed is not None
    assert failed.field == "server_key"
    assert "wrong server key is the likely cause" in failed.message
    assert not known.exists()  # a key that never got in is not remembered
    assert run.connect("alice", server_key=broker.public_key).connected is not None
    run.shows("#general", "you are in #general")
    assert broker.public_key in known.read_text()


def test_several_nodes_typed_in_the_form_are_used_and_the_status_follows_a_failover(
    make_broker, driven
):
    a, b = make_broker(), make_broker()
    run = Driven(a)
    driven.append(run)
    # The form's host field, with a node each: the client gets both.
    typed = f"127.0.0.1:{a.port}, 127.0.0.1:{b.port}"
    assert run.vm.connect("alice", typed, "") is None
    assert run.until(lambda c: c.connected or c.connect_failed).connected is not None
    client = run.vm.client
    assert client is not None
    assert sorted(client.endpoints) == sorted([a.endpoint, b.endpoint])
    on = client.endpoint
    assert run.vm.status()[0] == f"alice  │  {on.removeprefix('tcp://')}  │  connected"
    # Confirmed in the form: every node is remembered, the first as host and port.
    assert run.remembered == [LastConnect("alice", "127.0.0.1", a.port, (a.endpoint, b.endpoint))]

    lost, other = (a, b) if on == a.endpoint else (b, a)
    lost.kill()
    # The window redraws its status when a Changes carries a snapshot: the one
    # that says connected must name the other node (its reconnecting and connected
    # states may come in one batch, and the state alone would look unchanged).
    back = run.until(
        lambda c: (
            c.snapshot is not None
            and c.snapshot.connection == "connected"
            and c.snapshot.endpoint != on
        ),
        20,
        "connected again, on the other node",
    )
    assert back.snapshot is not None
    assert back.snapshot.endpoint == other.endpoint
    assert run.vm.status() == (
        f"alice  │  {other.endpoint.removeprefix('tcp://')}  │  connected",
        "connected",
    )
    # The transcript's line and the status bar name the same node.
    line = f"reconnected (session resumed) to {other.endpoint.removeprefix('tcp://')}"
    run.until(
        lambda _: any(line in t for key in run.vm.transcripts for t in run.texts(key)),
        what=repr(line),
    )
