"""Helpers for tests that need a real broker: start it as a process on free loopback
ports, kill it, restart it on the same ports and store, pause it; wait for an event
that matches, or for any condition; run other processes that talk through it.

::

    broker = BrokerProcess(tmp_path)
    broker.start()
    with Client("alice", broker.endpoint) as alice:
        expect(alice, "chat", room="general", text="hi")
        wait_until(lambda: "bob" in alice.who("general"), 5, "bob in #general")
    broker.kill()
    broker.restart()

The broker is started with ``--parent-pid`` so it exits by itself if the test
process dies, and with ``--port 0 --ready-file`` so it picks free ports and says
which (no port races between parallel test runs). The pytest fixtures built on
these live in :mod:`zmqchat.pytest_plugin`.
"""

from zmqchat.testing.broker import BrokerProcess
from zmqchat.testing.spawning import Spawned, spawn
from zmqchat.testing.waiting import async_expect, async_wait_until, expect, matches, wait_until

__all__ = [
    "BrokerProcess",
    "Spawned",
    "async_expect",
    "async_wait_until",
    "expect",
    "matches",
    "spawn",
    "wait_until",
]
