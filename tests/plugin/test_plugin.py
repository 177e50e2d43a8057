"""The pytest plugin as another project uses it: pytester writes a test suite into a
temporary directory and runs pytest on it in a subprocess, where zmqchat's
``pytest11`` entry point loads the plugin as an installed package would."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zmqchat import PresenceEvent
from zmqchat.testing import async_wait_until, matches, spawn, wait_until

pytestmark = pytest.mark.timeout(120)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # -p no:cacheprovider: keep the temp project clean; the user's view otherwise.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=100)


def test_every_fixture_works_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import asyncio, subprocess, sys
        import pytest
        from zmqchat import BrokerError, ChatEvent, PmEvent
        from zmqchat.testing import async_expect, expect

        def test_session_broker_and_clients(zmqchat_broker, zmqchat_client):
            assert zmqchat_broker.endpoint.startswith("tcp://127.0.0.1:")
            assert zmqchat_broker.pub_endpoint.startswith("tcp://127.0.0.1:")
            alice = zmqchat_client("alice")
            bob = zmqchat_client("bob", rooms=["general", "ops"])
            alice.send("general", "hi")
            event = expect(bob, "chat", room="general", text="hi")
            assert event.sender == "alice"
            alice.pm("bob", "psst")
            assert expect(bob, PmEvent, text="psst").sender == "alice"

        def test_the_session_broker_is_shared(zmqchat_broker, zmqchat_client):
            carol = zmqchat_client("carol")
            assert carol.history("general", limit=500).messages  # the first test's traffic

        def test_factory_options_and_faults(zmqchat_broker_factory, zmqchat_client):
            broker = zmqchat_broker_factory(timeout=30, rate_limit=0)
            dave = zmqchat_client("dave", broker=broker)
            seq = dave.send("general", "before").seq
            broker.kill()
            broker.restart()
            assert dave.send("general", "after").seq == seq + 1
            broker.pause()
            broker.resume()
            assert broker.stop() == 0

        def test_factory_log_level_and_wrapper(zmqchat_broker_factory, zmqchat_client):
            # The wrapper command's environment caps the sessions at one.
            broker = zmqchat_broker_factory(
                log_level="warning", wrapper=("env", "ZMQCHAT_MAX_SESSIONS=1")
            )
            zmqchat_client("gina", broker=broker)
            with pytest.raises(BrokerError) as refused:
                zmqchat_client("hank", broker=broker)
            assert refused.value.code == "server_busy"
            log = broker.log_file.read_text()
            assert "refused a session" in log
            assert "registered" not in log  # an info line

        def test_async_client(zmqchat_async_client):
            async def main():
                eve = await zmqchat_async_client("eve")
                frank = await zmqchat_async_client("frank")
                await eve.send("general", "async hi")
                await async_expect(frank, ChatEvent, text="async hi")
                await eve.close()
                await frank.close()
            asyncio.run(main())

        def test_spawn_a_command_and_a_callable(zmqchat_broker, zmqchat_spawn, zmqchat_client):
            watcher = zmqchat_client("watcher")
            sender = zmqchat_spawn(
                [sys.executable, "-m", "zmqchat", "send", "--room", "general", "from a process"],
                broker=zmqchat_broker,
            )
            assert sender.wait(20) == 0
            expect(watcher, "chat", text="from a process")
            sleeper = zmqchat_spawn(sleep_forever)
            assert sleeper.alive()

        def sleep_forever():
            import time
            while True:
                time.sleep(1)
        """
    )
    result = run(pytester, "-v")
    result.assert_outcomes(passed=6)


def test_expect_shows_what_arrived_instead(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        from zmqchat.testing import expect

        def test_wrong_text(zmqchat_client):
            alice = zmqchat_client("alice")
            bob = zmqchat_client("bob")
            alice.send("general", "what was said")
            expect(bob, "chat", text="what was expected", timeout=1)
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no chat matching {'text': 'what was expected'} within 1s*",
            "*text='what was said'*",
        ]
    )
    # The broker's log is shown with the failure.
    result.stdout.fnmatch_lines(["*zmqchat broker log*", "*registered bob*"])


def test_matches_any_field_even_one_named_event() -> None:
    leave = PresenceEvent(room="general", seq=3, user="alice", event="leave", ts=1.0)
    assert matches(leave, "presence", event="leave", user="alice")
    assert matches(leave, PresenceEvent, room="general")
    assert not matches(leave, "presence", event="join")
    assert not matches(leave, "chat")
    assert not matches(leave, text="leave")  # no such field


def test_wait_until_returns_what_held_or_says_what_it_waited_for() -> None:
    answers = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(answers), 5, "an answer", interval=0) == "ready"

    tries: list[float] = []
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        wait_until(lambda: tries.append(time.monotonic()), 0.2, lambda: f"{len(tries)} tries")
    assert 0.2 <= time.monotonic() - started < 5
    # The description is made when time is up, so it shows the state then.
    assert str(failed.value) == f"timed out after 0.2s waiting for {len(tries)} tries"
    assert len(tries) > 1  # tried again, not once


def test_async_wait_until_lets_the_loop_run_between_tries() -> None:
    async def main() -> None:
        ticked = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, ticked.set)
        assert await async_wait_until(ticked.is_set, 5, "the timer") is True
        with pytest.raises(AssertionError, match=r"^timed out after 0\.05s waiting for never$"):
            await async_wait_until(lambda: False, 0.05, "never")

    asyncio.run(main())


def test_a_suites_clients_are_not_one_rate_limited_peer(pytester: pytest.Pytester) -> None:
    # Every client of a suite comes from 127.0.0.1: the shipped per-address limits
    # would throttle the whole suite as one LAN host. Per-session limits stay.
    pytester.makepyfile(
        test_user="""
        from zmqchat import Client

        def limits(broker):
            client = Client("probe", broker.endpoint)
            try:
                return client.connect().limits
            finally:
                client.close()

        def test_session_broker(zmqchat_broker):
            got = limits(zmqchat_broker)
            assert got["address_rate_limit"] == 0
            assert got["rate_limit"] == 200

        def test_factory_broker_unless_asked(zmqchat_broker_factory):
            assert limits(zmqchat_broker_factory())["address_rate_limit"] == 0
            asked = zmqchat_broker_factory(address_rate_limit=50, address_rate_burst=60)
            assert limits(asked)["address_rate_limit"] == 50
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_it(zmqchat_broker):\n    pass\n")
    result = run(pytester, "-p", "no:zmqchat")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'zmqchat_broker' not found*"])


def test_each_xdist_worker_gets_its_own_broker(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "endpoints"
    out.mkdir()
    pytester.makepyfile(
        test_user=f"""
        import os, pathlib, pytest

        @pytest.mark.parametrize("n", range(4))
        def test_it(n, zmqchat_broker, zmqchat_client):
            zmqchat_client(f"user{{n}}")
            worker = os.environ["PYTEST_XDIST_WORKER"]
            pathlib.Path({str(out)!r}, f"{{worker}}-{{n}}").write_text(zmqchat_broker.endpoint)
        """
    )
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=4)
    by_worker: dict[str, set[str]] = {}
    for path in out.iterdir():
        by_worker.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert len(by_worker) == 2
    endpoints = [next(iter(e)) for e in by_worker.values()]
    assert all(len(e) == 1 for e in by_worker.values())  # one broker per worker
    assert endpoints[0] != endpoints[1]


def test_no_broker_outlives_a_killed_pytest(pytester: pytest.Pytester, tmp_path: Path) -> None:
    info = tmp_path / "broker.json"
    pytester.makepyfile(
        test_user=f"""
        import json, pathlib, time

        def test_hang(zmqchat_broker):
            pathlib.Path({str(info)!r}).write_text(json.dumps({{"pid": zmqchat_broker.pid}}))
            time.sleep(600)
        """
    )
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        broker_pid = wait_until(
            lambda: info.exists() and json.loads(info.read_text())["pid"], 60, "the broker"
        )
        os.kill(proc.pid, signal.SIGKILL)  # no teardown, no fixture finalizers
        proc.wait(10)

        def gone() -> bool:
            try:
                os.kill(broker_pid, 0)
            except ProcessLookupError:
                return True
            # A zombie (the broker's parent was pytest, now gone; init reaps it).
            stat = Path(f"/proc/{broker_pid}/stat")
            return stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z")

        started = time.monotonic()
        wait_until(gone, 10, "the orphaned broker to exit")
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_examples_in_docs_testing_md_pass(pytester: pytest.Pytester) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert len(blocks) >= 4
    pytester.makepyfile(
        test_doc="import subprocess, sys\nfrom zmqchat.testing import expect\n\n"
        + "\n\n".join(blocks)
    )
    result = run(pytester)
    result.assert_outcomes(
        passed=sum(block.count("\ndef test_") + block.startswith("def test_") for block in blocks)
    )


def test_spawned_processes_leave_no_open_pipes() -> None:
    command = spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    finished = spawn([sys.executable, "-c", "print('hi')"], stdout=subprocess.PIPE)
    function = spawn(sorted, "a callable")
    assert finished.wait(10) == 0
    assert finished.popen is not None
    assert finished.popen.stdout is not None
    assert finished.popen.stdout.read() == b"hi\n"  # pipes stay readable until the end
    assert function.wait(30) == 0
    for process in (finished, command, function):
        process.kill()
    assert command.returncode == -signal.SIGKILL
    assert function.returncode == 0
    for popen in (command.popen, finished.popen):
        assert popen is not None
        assert all(s is None or s.closed for s in (popen.stdin, popen.stdout, popen.stderr))
