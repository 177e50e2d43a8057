"""``/send PATH`` and ``/get ID [PATH]`` in a chat UI: each transfer on a thread of
its own, so chat goes on meanwhile, with a notice every quarter of the way and one
at the end (or an error line), in the conversation it started from."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Final

from zmqchat.client.chat.backlog import Emit
from zmqchat.client.chat.failures import classify
from zmqchat.client.chat.formatting import error, notice
from zmqchat.client.io.sync import Client
from zmqchat.common.files import human_size
from zmqchat.common.threads import start_thread

log = logging.getLogger("zmqchat.console")

# Progress notices at these fractions of the file (besides the end).
_STEPS: Final = (0.25, 0.5, 0.75)


def _progress(say: Callable[[str], None], what: str) -> Callable[[int, int], None]:
    """A progress callback that says ``what: N%`` once per step passed."""
    passed: set[float] = set()

    def update(done: int, size: int) -> None:
        for step in _STEPS:
            if size and done >= step * size and step not in passed:
                passed.add(step)
                say(f"{what}: {int(step * 100)}% of {human_size(size)}")

    return update


def _start(name: str, body: Callable[[], None], emit: Emit, where: str | None) -> None:
    def run() -> None:
        try:
            body()
        except Exception as exc:  # a UI must survive what a transfer raises: say it
            failure = classify(exc)
            if failure.kind == "internal":
                log.debug("file transfer failed", exc_info=True)
            emit(error(failure.message, failure.code), where)

    start_thread(run, name)


def send_file(
    client: Client, path: str, room: str | None, to: str | None, emit: Emit, where: str | None
) -> None:
    """Send ``path`` to ``room`` or ``to`` in the background; the file's line comes
    as the room's event (or here, for a private file)."""
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        emit(error(f"{path}: not a file"), where)
        return
    name = os.path.basename(path)
    target = f"#{room}" if room is not None else to

    def say(text: str) -> None:
        emit(notice(text), where)

    def body() -> None:
        say(f"sending {name} to {target}…")
        done = client.send_file(path, room=room, to=to, progress=_progress(say, name))
        stored = " (they are offline: it waits for them)" if done.status == "stored" else ""
        say(f"sent {name} ({human_size(done.size)}) to {target} as file {done.id}{stored}")

    _start(f"zmqchat-send-{name}", body, emit, where)


def get_file(client: Client, file_id: int, path: str | None, emit: Emit, where: str | None) -> None:
    """Fetch file ``file_id`` in the background into ``path`` (default: the current
    folder)."""
    target = os.path.expanduser(path) if path is not None else None

    def say(text: str) -> None:
        emit(notice(text), where)

    def body() -> None:
        say(f"fetching file {file_id}…")
        got = client.get_file(file_id, target, progress=_progress(say, f"file {file_id}"))
        say(f"saved {got.name} ({human_size(got.size)}) as {got.path}; sha256 checked")

    _start(f"zmqchat-get-{file_id}", body, emit, where)


__all__ = ["get_file", "send_file"]
