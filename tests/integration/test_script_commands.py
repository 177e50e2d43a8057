"""The script commands as real processes against a real broker: send, tail, pm, who,
rooms, history, and their exit statuses."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from tests.cli_helpers import run_cli, spawn_cli

from zmqchat import ChatEvent, Client, PmEvent, PresenceEvent
from zmqchat.testing import BrokerProcess, expect

pytestmark = pytest.mark.timeout(60)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one readable line on stderr."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(f"zmqchat {result.args[3]}: ")
    return lines[0]


def history_texts(client: Client, room: str = "general") -> list[str]:
    page = client.history(room, limit=500)
    return [m.text for m in page.messages if m.TYPE == "chat"]  # type: ignore[union-attr]


def test_send_lines_are_read_by_tail_json_in_another_process(broker, tmp_path):
    port = str(broker.port)
    with contextlib.ExitStack() as stack, Client("watch", broker.endpoint) as watch:
        tail = spawn_cli(
            tmp_path, "tail", "--port", port, "--json", "--count", "3", "--user", "reader"
        )
        stack.enter_context(tail)  # closes its pipes
        expect(watch, PresenceEvent, user="reader", event="join")
        sent = run_cli(
            tmp_path,
            "send", "--port", port, "--room", "general", "--user", "bot",
            "--data", '{"build": 42}', "-",
            input="first\n\nسلام دنیا 👋\n   \nlast\n",  # noqa: RUF001 - Persian on purpose
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        out, err = tail.communicate(timeout=20)
    assert tail.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    # The messages alone: `send` posts without joining, so no join or leave around them.
    assert [(e["type"], e["text"]) for e in events] == [
        ("chat", "first"),
        ("chat", "سلام دنیا 👋"),
        ("chat", "last"),
    ]
    assert {e["from"] for e in events} == {"bot"}
    assert all(e["room"] == "general" and isinstance(e["ts"], float) for e in events)
    assert [e["data"] for e in events] == [{"build": 42}] * 3
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 3))


def test_concurrent_senders_get_unique_names_and_every_message_is_stored_on_exit(broker, tmp_path):
    senders = [
        spawn_cli(
            tmp_path,
            "send",
            "--port",
            str(broker.port),
            "--room",
            "general",
            stdin=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    for n, proc in enumerate(senders):
        with proc:
            proc.communicate("".join(f"s{n}-{i}\n" for i in range(25)), timeout=30)
            assert proc.returncode == 0, proc.stderr
    # Every sender has exited: all it said must be in the store already.
    with Client("check", broker.endpoint) as check:
        page = check.history("general", limit=500)
    said = [m for m in page.messages if isinstance(m, ChatEvent)]
    assert sorted(m.text for m in said) == sorted(f"s{n}-{i}" for n in range(4) for i in range(25))
    names = {m.sender for m in said}
    assert len(names) == 4
    assert all(name.startswith("send-") for name in names)
    # They came and went without a word in the room: its only join is check's own.
    comings = [(m.user, m.event) for m in page.messages if isinstance(m, PresenceEvent)]
    assert comings == [("check", "join")]


def test_send_rides_out_the_rate_limit_and_loses_nothing(make_broker, tmp_path):
    broker = make_broker(rate_limit=100, rate_burst=5)
    lines = "".join(f"r{n}\n" for n in range(40))
    result = run_cli(tmp_path, "send", "--port", str(broker.port), "--room", "general", input=lines)
    assert result.returncode == 0, result.stderr
    with Client("check", broker.endpoint) as check:
        assert history_texts(check) == [f"r{n}" for n in range(40)]  # all, in order


def test_unreachable_broker_exits_3(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    result = run_cli(
        tmp_path, "send", "--port", port, "--connect-timeout", "0.5", "--room", "r", "hi"
    )
    assert result.returncode == 3
    assert "broker unreachable" in one_line_error(result)
    tail = run_cli(tmp_path, "tail", "--port", port, "--connect-timeout", "0.5")
    assert tail.returncode == 3
    # The setting also comes from the environment.
    env_timeout = run_cli(tmp_path, "who", "--port", port, ZMQCHAT_CONNECT_TIMEOUT="0.3")
    assert env_timeout.returncode == 3
    # The same words as the console and the GUI's connect form.
    assert one_line_error(env_timeout) == (
        f"zmqchat who: broker unreachable: no zmqchat broker answered at 127.0.0.1:{port}"
        " within 0.3s (an encrypted broker also needs its server key)"
    )


def test_rejected_names_exit_1(broker, tmp_path):
    port = str(broker.port)
    with Client("alice", broker.endpoint):
        taken = run_cli(tmp_path, "send", "--port", port, "--user", "ALICE", "--room", "g", "x")
        assert taken.returncode == 1
        assert "name_taken" in one_line_error(taken)
    invalid = run_cli(tmp_path, "pm", "--port", port, "--user", "no spaces", "bob", "hi")
    assert invalid.returncode == 1
    assert "invalid_name" in one_line_error(invalid)


def test_a_refused_message_is_named_and_the_others_still_sent(broker, tmp_path):
    lines = "ok1\n" + "x" * 5000 + "\nok2\n\n" + "y" * 4097 + "\n"
    result = run_cli(tmp_path, "send", "--port", str(broker.port), "--room", "general", input=lines)
    assert result.returncode == 1
    error = one_line_error(result)
    assert "line 2 " in error
    assert "too_long" in error
    assert "2 of 4" in error
    with Client("check", broker.endpoint) as check:
        assert history_texts(check) == ["ok1", "ok2"]


def test_a_line_over_the_frame_limit_is_refused_like_the_others(broker, tmp_path):
    # The client refuses it before the broker can (the request would exceed 64 KiB).
    lines = "ok1\n" + "z" * 70_000 + "\nok2\n"
    result = run_cli(tmp_path, "send", "--port", str(broker.port), "--room", "general", input=lines)
    assert result.returncode == 1
    error = one_line_error(result)
    assert "line 2 " in error
    assert "refused: too_long: " in error
    assert "[1 of 3 message(s) refused]" in error
    with Client("check", broker.endpoint) as check:
        assert history_texts(check) == ["ok1", "ok2"]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["send", "--room", "g", "--data", "[1]", "x"], {}, "--data must be a JSON object"),
        (["send", "--room", "g", "--data", "{oops", "x"], {}, "--data is not valid JSON"),
        (["who"], {"ZMQCHAT_PORT": "not-a-port"}, "ZMQCHAT_PORT"),
        (["rooms", "--config", "/nonexistent.toml"], {}, "does not exist"),
        (["send", "--room", "no spaces", "x"], {}, "'no spaces' is not a room name"),
        (["tail", "--room", "a.b"], {}, "'a.b' is not a room name"),
    ],
)
def test_usage_and_config_errors_exit_2(broker, tmp_path, args, env, says):
    result = run_cli(tmp_path, *args, **env)
    assert result.returncode == 2
    assert says in one_line_error(result)


def test_tail_timeout_status_depends_on_count(broker, tmp_path):
    port = str(broker.port)
    short = run_cli(tmp_path, "tail", "--port", port, "--count", "3", "--timeout", "0.5")
    assert short.returncode == 4, short.stderr
    assert short.stdout == ""
    # Like every other non-zero status, it comes with one line saying why.
    assert short.stderr == "zmqchat tail: timeout after 0.5 s with 0 of 3 events\n"
    plain = run_cli(tmp_path, "tail", "--port", port, "--timeout", "0.5")
    assert plain.returncode == 0, plain.stderr


def test_history_and_tail_backlog_page_through_history_without_overlap(broker, tmp_path):
    port = str(broker.port)
    with Client("alice", broker.endpoint) as alice:
        for n in range(620):  # more than one history page (500)
            alice.send_async("general", f"m{n}")
        last_seq = alice.send("general", "m620").seq

        page = run_cli(tmp_path, "history", "--port", port, "general", "--limit", "600", "--json")
        assert page.returncode == 0, page.stderr
        events = [json.loads(x) for x in page.stdout.splitlines()]
        assert [e["text"] for e in events] == [f"m{n}" for n in range(21, 621)]

        text = run_cli(tmp_path, "history", "--port", port, "general", "--limit", "2", "--presence")
        assert text.returncode == 0, text.stderr
        lines = [line.split(" ", 1)[1] for line in text.stdout.splitlines()]
        # `history` reads without joining: the first one left no join and leave behind.
        assert lines == ["#general <alice> m619", "#general <alice> m620"]

        # `tail` joins the rooms it follows; its own join is not shown.

        args = ["tail", "--port", port, "--json", "--since", "0", "--presence"]
        everything = run_cli(tmp_path, *args, "--count", str(last_seq))
        assert everything.returncode == 0, everything.stderr
        events = [json.loads(x) for x in everything.stdout.splitlines()]
        assert [e["seq"] for e in events] == list(range(1, last_seq + 1))
        assert (events[0]["type"], events[0]["user"]) == ("presence", "alice")

        alice.send("general", "newest")
        args = ["tail", "--port", port, "--json", "--last", "3", "--count", "3", "--presence"]
        last3 = run_cli(tmp_path, *args)
        assert last3.returncode == 0, last3.stderr
        events = [json.loads(x) for x in last3.stdout.splitlines()]
        # The `tail` before this one joined and left; then alice said something.
        assert [e.get("event") or e["text"] for e in events] == ["join", "leave", "newest"]


def test_tail_into_a_closed_pipe_exits_quietly(broker, tmp_path):
    with (
        Client("watch", broker.endpoint) as watch,
        spawn_cli(tmp_path, "tail", "--port", str(broker.port), "--user", "reader") as tail,
    ):
        expect(watch, PresenceEvent, user="reader", event="join")
        watch.send("general", "first")
        assert tail.stdout is not None
        assert "<watch> first" in tail.stdout.readline()
        tail.stdout.close()  # as `| head -1` does after its line
        for n in range(50):
            watch.send("general", f"more {n}")
            if tail.poll() is not None:
                break
        assert tail.wait(10) == 0
        assert tail.stderr is not None
        assert tail.stderr.read() == ""


def test_tail_survives_a_broker_restart_and_ctrl_c_ends_it(broker: BrokerProcess, tmp_path):
    port = str(broker.port)
    with (
        Client("watch", broker.endpoint) as watch,
        spawn_cli(tmp_path, "tail", "--port", port, "--user", "reader") as tail,
    ):
        expect(watch, PresenceEvent, user="reader", event="join")
        watch.send("general", "before")
        broker.restart()
        assert watch.send("general", "after").seq
        assert tail.stdout is not None
        lines = [tail.stdout.readline(), tail.stdout.readline()]
        assert ["before" in lines[0], "after" in lines[1]] == [True, True]
        assert tail.stderr is not None
        # In the chat windows' words, naming the node (several: where it went); it
        # may come after the events the reconnection fetched.
        said = [tail.stderr.readline() for _ in range(2)]
        tail.send_signal(signal.SIGINT)
        assert tail.wait(10) == 130
        err = "".join(said) + tail.stderr.read()
    assert "Traceback" not in err
    assert "reconnecting" in said[0]
    assert f"reconnected (session resumed) to 127.0.0.1:{port}" in said[1]


def test_pm_who_rooms(broker, tmp_path: Path):
    port = str(broker.port)
    with Client("bob", broker.endpoint, rooms=["general", "dev"]) as bob:
        sent = run_cli(tmp_path, "pm", "--port", port, "--user", "ops", "bob", "deploy", "done")
        assert sent.returncode == 0, sent.stderr
        pm = expect(bob, PmEvent)
        assert isinstance(pm, PmEvent)
        assert (pm.sender, pm.text) == ("ops", "deploy done")

        offline = run_cli(tmp_path, "pm", "--port", port, "nobody", "hi")
        assert offline.returncode == 1
        assert "no_such_user" in one_line_error(offline)

        who = run_cli(tmp_path, "who", "--port", port, "--json")
        assert json.loads(who.stdout) == ["bob"]  # not the command's own connection
        who_dev = run_cli(tmp_path, "who", "--port", port, "--room", "DEV")
        assert who_dev.stdout == "bob\n"

        listing = run_cli(tmp_path, "rooms", "--port", port, "--json")
        rooms = {r["name"]: r for r in json.loads(listing.stdout)}
        assert rooms["dev"]["members"] == 1
        assert rooms["general"]["members"] == 1
        table = run_cli(tmp_path, "rooms", "--port", port)
        assert [line.split()[0] for line in table.stdout.splitlines()] == ["#dev", "#general"]


def chat_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The text lines of a command, without their time."""
    assert result.returncode == 0, result.stderr
    return [line.split(" ", 1)[1] for line in result.stdout.splitlines()]


def test_history_and_tail_backlog_count_messages_not_comings_and_goings(broker, tmp_path):
    port = str(broker.port)
    for n in range(3):  # a bot posting with one `send` each time: a join and a leave each
        sent = run_cli(tmp_path, "send", "--port", port, "--room", "ci", "--user", "bot", f"b{n}")
        assert sent.returncode == 0, sent.stderr
    with Client("busy", broker.endpoint, rooms=["ci"]) as busy:
        for _ in range(300):  # more joins and leaves than a page of history (500) holds
            busy.leave("ci")
            busy.join("ci")

    history = run_cli(tmp_path, "history", "--port", port, "ci", "--limit", "2")
    assert chat_lines(history) == ["#ci <bot> b1", "#ci <bot> b2"]
    assert history.stderr == ""
    as_json = run_cli(tmp_path, "history", "--port", port, "ci", "--limit", "5", "--json")
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["text"] for e in events] == ["b0", "b1", "b2"]  # all there are
    assert all(e.keys() == {"type", "room", "seq", "from", "text", "ts"} for e in events)

    # Each `tail` joins and leaves as well; the next one still shows the messages.
    for _ in range(2):
        tail = run_cli(
            tmp_path, "tail", "--port", port, "--room", "ci", "--last", "2", "--count", "2"
        )
        assert chat_lines(tail) == ["#ci <bot> b1", "#ci <bot> b2"]
    since = run_cli(
        tmp_path, "tail", "--port", port, "--room", "ci", "--since", "0", "--count", "3"
    )
    assert chat_lines(since) == ["#ci <bot> b0", "#ci <bot> b1", "#ci <bot> b2"]

    # --presence: the comings and goings too, counted as events.
    with_presence = run_cli(
        tmp_path, "history", "--port", port, "ci", "--limit", "3", "--presence", "--json"
    )
    events = [json.loads(line) for line in with_presence.stdout.splitlines()]
    assert [(e["type"], e["user"], e["event"]) for e in events] == [
        ("presence", events[0]["user"], "leave"),
        ("presence", events[1]["user"], "join"),
        ("presence", events[1]["user"], "leave"),
    ]
    assert events[1]["user"].startswith("tail-")


def test_tail_no_presence_waits_for_a_message_not_a_join(broker, tmp_path):
    port = str(broker.port)
    with Client("watch", broker.endpoint, rooms=["ci"]) as watch:
        args = ["--port", port, "--room", "ci", "--json", "--no-presence", "--count", "1"]
        with spawn_cli(tmp_path, "tail", *args, "--user", "reader") as tail:
            expect(watch, PresenceEvent, user="reader", event="join")
            # The sender's join comes first; it must not count as the awaited event.
            sent = run_cli(tmp_path, "send", "--port", port, "--room", "ci", "--user", "bot", "hi")
            assert sent.returncode == 0, sent.stderr
            out, err = tail.communicate(timeout=20)
    assert tail.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["type"], e["from"], e["text"]) for e in events] == [("chat", "bot", "hi")]


def test_empty_answers_are_said_on_stderr_and_succeed(broker, tmp_path):
    port = str(broker.port)
    rooms = run_cli(tmp_path, "rooms", "--port", port)
    assert (rooms.returncode, rooms.stdout) == (0, "")
    assert rooms.stderr == "zmqchat rooms: no rooms yet\n"
    rooms_json = run_cli(tmp_path, "rooms", "--port", port, "--json")
    assert (rooms_json.returncode, rooms_json.stdout, rooms_json.stderr) == (0, "[]\n", "")
    who = run_cli(tmp_path, "who", "--port", port)
    assert (who.returncode, who.stdout, who.stderr) == (0, "", "zmqchat who: no one online\n")
    who_dev = run_cli(tmp_path, "who", "--port", port, "--room", "Dev")
    assert who_dev.stderr == "zmqchat who: no one in #dev\n"

    with Client("visitor", broker.endpoint, rooms=["quiet"]):
        pass  # came and went: the room has a history, and no message in it
    nothing = run_cli(tmp_path, "history", "--port", port, "quiet")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert nothing.stderr == "zmqchat history: room quiet has no messages\n"
    as_json = run_cli(tmp_path, "history", "--port", port, "quiet", "--json")
    assert (as_json.returncode, as_json.stdout, as_json.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("command", "signum", "status"),
    [
        (["tail"], signal.SIGTERM, 143),
        (["tail"], signal.SIGHUP, 129),  # the terminal it runs in was closed
        (["send", "--room", "general", "-"], signal.SIGTERM, 143),  # waiting for stdin
    ],
)
def test_a_command_stopped_by_a_signal_says_bye(broker, tmp_path, command, signum, status):
    joins = command[0] != "send"  # `send` posts from outside the room
    with Client("watch", broker.endpoint) as watch:
        args = [*command, "--port", str(broker.port), "--user", "reader"]
        with spawn_cli(tmp_path, *args, stdin=subprocess.PIPE) as proc:
            assert proc.stdin is not None
            proc.stdin.write("first\n")  # `send` connects on its first line
            proc.stdin.flush()
            if joins:
                expect(watch, PresenceEvent, user="reader", event="join")
            else:
                expect(watch, ChatEvent, sender="reader", text="first")
            proc.send_signal(signum)
            assert proc.wait(10) == status
            assert proc.stderr is not None
            assert proc.stderr.read() == ""
        if joins:
            # Well within the broker's 15 s timeout, and said to be a quit, not a timeout.
            left = expect(watch, PresenceEvent, timeout=5, user="reader")
            assert (left.event, left.reason) == ("leave", "quit")
        # The name is free at once: a session that had not said bye would hold it
        # (detached) until it timed out.
        with Client("reader", broker.endpoint):
            pass
