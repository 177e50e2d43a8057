"""SIGINT, SIGTERM and SIGHUP are the main thread's: every thread the client library
starts blocks them, so the kernel cannot hand one to a thread that would only set
CPython's flag while the main thread sleeps on (zmqchat.common.threads)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.cli_helpers import cli_env, spawn_cli

from zmqchat import Client, PresenceEvent
from zmqchat.common.threads import STOP_SIGNALS, start_thread
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc"),
]

STOP_MASK = sum(1 << (signum - 1) for signum in STOP_SIGNALS)


def blocked_masks(pid: int) -> dict[int, tuple[str, int]]:
    """Each thread of ``pid``: its name and its blocked signals (SigBlk, a bit mask)."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = dict(
            line.split(":\t", 1)
            for line in (task / "status").read_text().splitlines()
            if ":\t" in line
        )
        threads[int(task.name)] = (fields["Name"], int(fields["SigBlk"], 16))
    return threads


def test_only_the_main_thread_of_tail_can_take_a_stop_signal(broker: BrokerProcess, tmp_path):
    with (
        Client("watch", broker.endpoint) as watch,
        spawn_cli(tmp_path, "tail", "--port", str(broker.port), "--user", "reader") as tail,
    ):
        expect(watch, PresenceEvent, user="reader", event="join")  # its threads run
        # Its main thread blocks them itself while it starts a thread: until done.
        wait_until(
            lambda: blocked_masks(tail.pid)[tail.pid][1] & STOP_MASK == 0,
            what="tail's main thread past starting its threads",
        )
        threads = blocked_masks(tail.pid)
        tail.send_signal(signal.SIGINT)  # before the checks: a failed one must not hang
        assert tail.wait(10) == 130
    _, main_mask = threads.pop(tail.pid)
    assert main_mask & STOP_MASK == 0
    assert threads  # the I/O thread and libzmq's
    taking = {tid: name for tid, (name, mask) in threads.items() if mask & STOP_MASK != STOP_MASK}
    assert taking == {}, "threads that could take SIGINT, SIGTERM or SIGHUP"


# The main thread of a connected client blocks SIGTERM for a moment, as glibc does
# while it starts a thread, and the process is sent one: the kernel looks for another
# thread to take it. None of the client's may: it waits, pending, for the main thread.
PENDING_WHILE_MAIN_BLOCKS = textwrap.dedent(
    """
    import os, select, signal, socket, sys
    from zmqchat import Client
    taken = []
    signal.signal(signal.SIGTERM, lambda signum, frame: taken.append(signum))
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())  # written by whichever thread takes it
    with Client("probe", sys.argv[1]):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        os.kill(os.getpid(), signal.SIGTERM)
        # Another thread taking it writes at once; a second is the window to see it.
        elsewhere = bool(select.select([wake_r], [], [], 1.0)[0])
        pending = signal.SIGTERM in signal.sigpending()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        print(elsewhere, pending, taken)
    """
)


def test_a_signal_the_main_thread_blocks_for_a_moment_waits_for_it(broker, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PENDING_WHILE_MAIN_BLOCKS, broker.endpoint],
        capture_output=True,
        text=True,
        timeout=20,
        env=cli_env(tmp_path),
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    # No other thread took it: pending until unblocked, then handled at once.
    assert done.stdout == f"False True [{int(signal.SIGTERM)}]\n"


def test_a_library_thread_starts_with_the_stop_signals_blocked_and_leaves_ours_alone():
    seen: list[set[int]] = []
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    thread = start_thread(lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])), "t")
    thread.join(5)
    assert len(seen) == 1
    assert seen[0] >= STOP_SIGNALS
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert thread.daemon


# A command's signal raised where CPython checks for one inside Condition.wait: just
# after the lock is released, before the `try` that takes it back (here forced, by
# letting the pending signal in right there, on the client's own event wait).
INTERRUPTED_IN_A_WAIT = textwrap.dedent(
    """
    import os, signal, sys
    from zmqchat import Client
    from zmqchat.client.console.runner import run
    signum = int(sys.argv[2])

    def body():
        with Client("probe", sys.argv[1]) as client:
            ready = client._ready
            release = ready._release_save

            def release_save():
                state = release()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})  # it lands here
                return state

            ready._release_save = release_save
            signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
            os.kill(os.getpid(), signum)
            while True:  # past the buffered events, to the wait
                client.next_event(timeout=5)

    raise SystemExit(run("tail", body))
    """
)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_inside_a_condition_wait_still_ends_the_command_as_itself(
    broker, tmp_path, signum, status
):
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IN_A_WAIT, broker.endpoint, str(int(signum))],
        capture_output=True,
        text=True,
        timeout=20,
        env=cli_env(tmp_path),
        check=False,
    )
    assert (done.returncode, done.stderr) == (status, "")
    # And it said bye on the way out: the name is free at once.
    with Client("probe", broker.endpoint):
        pass
