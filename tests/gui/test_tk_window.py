"""The Tk client on a real X server (Xvfb) against a real broker, with other
clients in their own processes: typing with key events, reading the Text widgets,
clicking, a broker restart, a burst of 10,000 messages, and closing."""

from __future__ import annotations

import json

import pytest

from zmqchat import Client
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(60)


def test_the_connect_form_shows_why_beside_the_field_and_stays_live(broker, make_gui):
    with Client("alice", broker.endpoint):
        gui = make_gui(broker, user="alice")
        form = gui.app.form
        assert form is not None
        # Every field is filled in: the focus is on the first one, Enter connects.
        assert gui.focused() is form.entries["user"]
        assert form.entries["user"].get() == "alice"
        assert form.entries["user"].selection_present()  # typing would replace it
        gui.press("Return")
        gui.update_until(lambda: form.errors["user"].cget("text"), what="an error by the name")
        assert "name_taken" in str(form.errors["user"].cget("text"))
        assert gui.focused() is form.entries["user"]  # there to be corrected
        gui.type("no spaces")  # the refused name is selected: this replaces it
        gui.press("Return")
        gui.update_until(lambda: "invalid_name" in str(form.errors["user"].cget("text")))
        form.entries["user"].delete(0, "end")
        gui.type("carol")
        gui.press("Return")
        gui.update_until(lambda: gui.app.window is not None, what="the chat window")
        gui.shows("#general", "you are in #general with alice (2 here)")
        # Remembered for the next run.
        saved = json.loads(gui.prefs.read_text())
        assert saved == {"user": "carol", "host": "127.0.0.1", "port": broker.port}


def test_the_connect_form_takes_the_broker_key(make_broker, make_gui, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # known_brokers goes there
    broker = make_broker(encryption="curve")
    gui = make_gui(broker, user="alice")
    form = gui.app.form
    assert form is not None
    key = form.entries["server_key"]
    key.insert(0, "not a key")
    gui.press("Return")
    gui.update_until(lambda: form.errors["server_key"].cget("text"), what="an error by it")
    key.delete(0, "end")
    key.insert(0, broker.public_key)
    gui.press("Return")
    gui.update_until(lambda: gui.app.window is not None, what="the chat window")
    known = tmp_path / "data" / "zmqchat" / "known_brokers"
    assert broker.public_key in known.read_text()


def test_the_connect_form_has_a_hidden_password_field_with_its_own_error(make_broker, make_gui):
    from tests.integration.test_accounts import PASSWORD, add_account

    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    gui = make_gui(broker, user="alice")
    form = gui.app.form
    assert form is not None
    password = form.entries["password"]
    assert password.cget("show") == "•"
    gui.press("Return")
    gui.update_until(lambda: form.errors["password"].cget("text"), what="an error by it")
    assert "give its password (auth_failed)" in str(form.errors["password"].cget("text"))
    assert gui.focused() is password  # there to be typed in
    gui.type("wrong")
    gui.press("Return")
    gui.update_until(lambda: "wrong password" in str(form.errors["password"].cget("text")))
    password.delete(0, "end")
    password.insert(0, PASSWORD)
    gui.press("Return")
    gui.update_until(lambda: gui.app.window is not None, what="the chat window")
    saved = json.loads(gui.prefs.read_text())
    assert saved == {"user": "alice", "host": "127.0.0.1", "port": broker.port}


def test_an_unreachable_broker_is_said_beside_the_host_without_freezing(make_broker, make_gui):
    dead = make_broker()
    dead.kill()  # nothing listens on its port now
    gui = make_gui(dead, user="alice", connect_timeout=2.0)
    form = gui.app.form
    assert form is not None
    form.submit()
    assert "connecting to" in str(form.message.cget("text"))
    gui.app.meter.reset()
    gui.update_until(lambda: form.errors["host"].cget("text"), 10, "an error by the host")
    assert "no zmqchat broker answered" in str(form.errors["host"].cget("text"))
    # The wait happened off the Tk thread: the loop kept turning (a frozen window
    # would have stalled for the whole 2 s).
    assert gui.app.meter.longest < 1.0, gui.app.meter.longest
    assert gui.app.window is None
    assert str(form.button.cget("state")) == "normal"


def test_chat_in_rooms_and_privately_with_real_keys(broker, make_gui, start_agent):
    bob = start_agent(broker.endpoint, "bob", "general", "dev")
    gui = make_gui(broker, user="alice", rooms=["general", "dev"])
    gui.app.form.submit()
    gui.shows("#general", "you are in #general with bob (2 here)")
    window = gui.window
    assert gui.focused() is window.input.entry  # the input has the keyboard at once

    gui.type("hello bob")
    gui.press("Return")
    assert bob.expect_event(type="chat", room="general", **{"from": "alice"})["text"] == (
        "hello bob"
    )
    assert window.input.text == ""
    gui.shows("#general", "<alice> hello bob")
    bob.call("send", room="general", text="hi alice سلام دنیا 👋")
    # The Persian shaped and in display order (Tk on X11 does neither); the emoji as
    # sent, which this Tk draws.
    shown = gui.shows("#general", "<bob> hi alice ")
    assert shown.endswith("<bob> hi alice \ufe8e\ufbff\ufee7\ufea9 \ufee1\ufe8e\ufee0\ufeb3 👋")
    assert gui.app.vm.rtl
    gui.press("Up")
    assert window.input.text == "hello bob"
    window.input.set_text("")

    # A click on the conversation gives the keyboard back to the input.
    gui.click(window.panes["#general"].text, 40, 20)
    assert gui.focused() is window.input.entry

    # Unread counts in the sidebar; choosing a room clears it.
    bob.call("send", room="dev", text="over here")
    gui.update_until(lambda: window.sidebar.label("#dev") == "# dev  (1)", what="unread 1")
    window.select("#dev")
    gui.shows("#dev", "<bob> over here")
    assert window.sidebar.label("#dev") == "# dev"
    assert window.shown == "#dev"


def test_private_conversations_commands_and_the_sidebar(broker, make_gui, start_agent):
    bob = start_agent(broker.endpoint, "bob", "general")
    gui = make_gui(broker, user="alice")
    gui.app.form.submit()
    gui.shows("#general", "you are in #general with bob (2 here)")
    window = gui.window

    # Double-click on a member opens a private conversation; Enter sends there.
    members = list(window.members.get(0, "end"))
    assert members == ["alice", "bob"]
    bbox = window.members.bbox(members.index("bob"))
    gui.click(window.members, bbox[0] + 2, bbox[1] + 2, times=2)
    gui.update_until(lambda: window.shown == "@bob", what="the private conversation")
    assert gui.focused() is window.input.entry
    gui.type("psst")
    gui.press("Return")
    assert bob.expect_event(type="pm", **{"from": "alice"})["text"] == "psst"
    gui.shows("@bob", "<alice> psst")
    bob.call("pm", to="alice", text="back at you")
    gui.shows("@bob", "<bob> back at you")

    # The console's commands work here too; a refused message comes back.
    gui.type("/join ops")
    gui.press("Return")
    gui.shows("#ops", "you are in #ops")
    gui.update_until(lambda: window.shown == "#ops", what="#ops shown")
    window.input.set_text("x" * 5000)
    gui.press("Return")
    gui.shows("#ops", "(too_long)")
    gui.update_until(lambda: window.input.text == "x" * 5000, what="the text given back")

    # Joining from the sidebar's field, leaving from its context menu.
    window.sidebar.join_entry.focus_set()
    gui.root.update()
    gui.type("qa")
    gui.press("Return")
    gui.shows("#qa", "you are in #qa")
    tree = window.sidebar.tree
    _, y, _, height = tree.bbox("#qa")
    tree.event_generate("<Button-3>", x=10, y=y + height // 2, rootx=100, rooty=100)
    menu = window.sidebar.menu
    assert menu.entrycget(0, "label") == "Leave #qa"
    menu.invoke(0)
    menu.unpost()
    gui.update_until(lambda: not tree.exists("#qa"), what="#qa gone")
    assert bob.call("who", room="qa")["reply"] == []


def test_a_broker_restart_is_ridden_out_and_the_gap_filled_once(make_broker, make_gui):
    broker = make_broker()
    gui = make_gui(broker, user="alice")
    gui.app.form.submit()
    gui.shows("#general", "you are in #general")
    assert gui.status().endswith("connected")
    with Client("bob", broker.endpoint) as bob:
        gui.shows("#general", "→ bob joined")
        for n in range(3):
            bob.send("general", f"before {n}")
        gui.shows("#general", "<bob> before 2")
        broker.kill()  # down until it is seen: a restart may be quicker than a look
        gui.update_until(lambda: gui.status().endswith("reconnecting…"), 15, "reconnecting")
        broker.start()
        wait_until(lambda: bob.state == "connected", 15, "bob back")
        for n in range(3):
            bob.send("general", f"after {n}")
        gui.update_until(lambda: gui.status().endswith("│  connected"), 15, "connected")
        expected = [f"before {n}" for n in range(3)] + [f"after {n}" for n in range(3)]

        def said() -> list[str]:
            return [ln.split("<bob> ")[1] for ln in gui.lines("#general") if "<bob> " in ln]

        gui.update_until(lambda: said() == expected, 15, "every message once")
        bob.send("general", "last")
        gui.shows("#general", "<bob> last")
        assert said() == [*expected, "last"]
        assert any("connection lost" in line for line in gui.lines("#general"))


def test_given_nodes_skip_the_form_and_the_status_bar_follows_a_failover(make_broker, make_gui):
    a, b = make_broker(), make_broker()
    gui = make_gui(a, user="alice", endpoints=[a.endpoint, b.endpoint])
    gui.app.start()  # as run_gui does: every setting given, no form to fill in
    gui.shows("#general", "you are in #general")
    client = gui.app.vm.client
    assert client is not None
    on = client.endpoint
    lost, other = (a, b) if on == a.endpoint else (b, a)
    assert gui.status() == f"alice  │  {on.removeprefix('tcp://')}  │  connected"
    lost.kill()
    now = f"alice  │  {other.endpoint.removeprefix('tcp://')}  │  connected"
    gui.update_until(lambda: gui.status() == now, 20, lambda: f"{now!r}, not {gui.status()!r}")
    gui.shows("#general", f"reconnected (session resumed) to {other.endpoint[6:]}")
    assert not gui.prefs.exists()  # given, not chosen: nothing remembered


def test_a_burst_of_10000_messages_leaves_the_window_responsive(make_broker, make_gui, start_agent):
    broker = make_broker(rate_limit=0)
    flooder = start_agent(broker.endpoint, "flood", "general")
    gui = make_gui(broker, user="alice")
    gui.app.form.submit()
    gui.shows("#general", "you are in #general with flood (2 here)")
    gui.app.meter.reset()
    flooder.command("flood", id=1, room="general", count=10_000, window=500, prefix="m")
    pane = gui.window.panes["#general"]
    # Only the last line is read while waiting: reading 10,000 would stall the
    # loop this test measures.
    gui.update_until(lambda: "<flood> m9999" in pane.text.get("end-2l", "end-1c"), 45, "m9999")
    longest = gui.app.meter.longest
    lines = pane.lines()
    said = [line.split("<flood> ")[1] for line in lines if "<flood> " in line]
    assert said == [f"m{n}" for n in range(10_000 - len(said), 10_000)]
    assert len(lines) <= gui.app.vm.scrollback
    print(f"longest Tk stall during the burst: {longest * 1000:.0f} ms")
    # The goal is 100 ms; a loaded 2-core CI machine gets some slack.
    assert longest < 0.5, f"the Tk loop stalled for {longest * 1000:.0f} ms"


def test_closing_the_window_says_bye_and_frees_the_name(broker, make_gui):
    gui = make_gui(broker, user="alice")
    gui.app.form.submit()
    gui.shows("#general", "you are in #general")
    gui.root.protocol("WM_DELETE_WINDOW")  # what the close button runs
    gui.root.tk.call(gui.root.protocol("WM_DELETE_WINDOW"))
    gui.close()
    with Client("alice", broker.endpoint, connect_timeout=2) as again:
        assert again.user == "alice"


def test_scrolling_to_the_top_loads_older_history_in_place(broker, make_gui):
    with Client("bob", broker.endpoint) as bob:
        for n in range(80):
            bob.send("general", f"old {n}")
        gui = make_gui(broker, user="alice")
        gui.app.form.submit()
        gui.shows("#general", "you are in #general")
        pane = gui.window.panes["#general"]
        assert sum("<bob> old" in line for line in pane.lines()) == 50
        # Page Up in the input scrolls the conversation; at the top, older lines come.
        for _ in range(20):
            gui.press("Prior")
            if pane.at_top():
                break
        assert pane.at_top()
        top = pane.text.get("@0,0 linestart", "@0,0 lineend")
        gui.update_until(lambda: "#general: the beginning" in pane.lines()[0], what="older lines")
        said = [line.split("<bob> ")[1] for line in pane.lines() if "<bob> " in line]
        assert said == [f"old {n}" for n in range(80)]
        # What the reader was looking at has not moved.
        assert pane.text.get("@0,0 linestart", "@0,0 lineend") == top
        assert gui.focused() is gui.window.input.entry


def test_tab_completes_commands_and_names(broker, make_gui):
    with Client("bob", broker.endpoint), Client("bobby", broker.endpoint):
        gui = make_gui(broker, user="alice")
        gui.app.form.submit()
        gui.shows("#general", "you are in #general with bob")
        gui.update_until(lambda: "bobby" in gui.app.vm.snapshot.members, what="bobby")
        entry = gui.window.input
        gui.type("/jo")
        gui.press("Tab")
        assert entry.text == "/join "  # a space after it: the room comes next
        entry.set_text("")
        gui.type("@bobb")
        gui.press("Tab")
        assert entry.text == "@bobby "
        entry.set_text("")
        # A name that starts the line is addressed, as in IRC: "bob: ".
        gui.type("bo")
        gui.press("Tab")
        assert entry.text == "bob: "
        gui.press("Tab")  # again: the next candidate, in its place
        assert entry.text == "bobby: "
        gui.type("ask b")
        gui.press("Tab")
        assert entry.text == "bobby: ask bob "  # inside a sentence: a space
        assert gui.focused() is entry.entry  # Tab does not move the focus
