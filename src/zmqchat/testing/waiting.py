"""Waiting in tests: for an event that matches (:func:`expect`), or for any
condition (:func:`wait_until`), each bounded in time and failing with what it
waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from zmqchat.errors import ConnectionClosed, Timeout

if TYPE_CHECKING:
    from zmqchat.aio import AsyncClient
    from zmqchat.client.io.sync import Client


def _kind(event: Any) -> str:
    """The wire type of an event record ("chat", "pm", ...) or "status"."""
    return str(getattr(event, "TYPE", "") or type(event).__name__.removesuffix("Event").lower())


def matches(event: Any, /, kind: str | type | None = None, **fields: Any) -> bool:
    """True when ``event`` is of ``kind`` (a record class, or a wire type such as
    ``"chat"``, ``"pm"``, ``"presence"``, ``"system"``, ``"status"``) and has every
    attribute in ``fields`` equal to the value given."""
    # Positional-only: a presence event has a field named ``event`` too.
    if isinstance(kind, type):
        if not isinstance(event, kind):
            return False
    elif kind is not None and _kind(event) != kind:
        return False
    missing = object()
    return all(getattr(event, name, missing) == value for name, value in fields.items())


class _Expectation:
    """The bookkeeping :func:`expect` and :func:`async_expect` share: the deadline,
    the events passed over, and the failure that lists them."""

    def __init__(self, kind: str | type | None, fields: dict[str, Any], timeout: float) -> None:
        self.kind, self.fields, self.timeout = kind, fields, timeout
        self.deadline = time.monotonic() + timeout
        self.seen: list[Any] = []

    def remaining(self) -> float:
        """Time left to wait; fails the test when there is none."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.fail()
        return left

    def met_by(self, event: Any) -> bool:
        if matches(event, self.kind, **self.fields):
            return True
        self.seen.append(event)
        return False

    def fail(self) -> NoReturn:
        shown = "\n  ".join(repr(event) for event in self.seen[-20:]) or "(nothing)"
        kind = self.kind
        name = kind.__name__ if isinstance(kind, type) else kind or "event"
        raise AssertionError(
            f"no {name} matching {self.fields} within {self.timeout:g}s; "
            f"{len(self.seen)} other event(s) arrived:\n  {shown}"
        )


def expect(
    client: Client, kind: str | type | None = None, timeout: float = 10.0, **fields: Any
) -> Any:
    """Wait for the next event of ``client`` that :func:`matches` ``kind`` and
    ``fields``; events before it are consumed. On timeout, fail with an
    AssertionError listing what did arrive::

        expect(bob, "chat", room="general", text="hello")
        expect(bob, PmEvent, sender="alice")
    """
    wanted = _Expectation(kind, fields, timeout)
    while True:
        try:
            event = client.next_event(wanted.remaining())
        except (Timeout, ConnectionClosed):
            wanted.fail()
        if wanted.met_by(event):
            return event


async def async_expect(
    client: AsyncClient, kind: str | type | None = None, timeout: float = 10.0, **fields: Any
) -> Any:
    """:func:`expect` for a :class:`~zmqchat.aio.AsyncClient`."""
    wanted = _Expectation(kind, fields, timeout)
    while True:
        try:
            event = await client.next_event(wanted.remaining())
        except (Timeout, ConnectionClosed):
            wanted.fail()
        if wanted.met_by(event):
            return event


_T = TypeVar("_T")

# What was awaited: a phrase, or a callable that describes the state when time is up.
What = str | Callable[[], object]


class _Deadline:
    """What :func:`wait_until` and :func:`async_wait_until` share: the time limit, and
    the failure that says what was awaited."""

    def __init__(self, timeout: float, what: What) -> None:
        self.timeout, self.what = timeout, what
        self.at = time.monotonic() + timeout

    def check(self) -> None:
        """Fail the test once the time is up."""
        if time.monotonic() > self.at:
            what = self.what() if callable(self.what) else self.what
            raise AssertionError(f"timed out after {self.timeout:g}s waiting for {what}")


def wait_until(
    condition: Callable[[], _T],
    timeout: float = 10.0,
    what: What = "the condition",
    *,
    interval: float = 0.005,
) -> _T:
    """Call ``condition`` every ``interval`` seconds until it returns something true,
    and return that. After ``timeout`` seconds, fail with an AssertionError that
    names ``what``: a phrase, or a callable whose result describes the state at that
    moment. For what no event announces (another process online, a file written)::

        wait_until(lambda: "bot" in alice.who("general"), 20, "the bot in #general")
    """
    deadline = _Deadline(timeout, what)
    while not (result := condition()):
        deadline.check()
        time.sleep(interval)
    return result


async def async_wait_until(
    condition: Callable[[], _T],
    timeout: float = 10.0,
    what: What = "the condition",
    *,
    interval: float = 0.005,
) -> _T:
    """:func:`wait_until` inside an event loop, which runs between the tries."""
    deadline = _Deadline(timeout, what)
    while not (result := condition()):
        deadline.check()
        await asyncio.sleep(interval)
    return result
