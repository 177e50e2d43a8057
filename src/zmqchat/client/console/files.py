"""``zmqchat file send`` and ``zmqchat file get``: the library's ``send_file`` and
``get_file`` with a progress bar on a terminal (size, rate, ETA, on stderr) and
none when stderr is not one, and one line per file on stdout. Interrupted (Ctrl+C,
SIGTERM), a transfer stops where it stands, and stderr says how to go on from
there."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

# tqdm: one small dependency for a bar with size, rate and ETA that redraws in
# place and fits the terminal's width (only this command's runner imports it).
from tqdm import tqdm

from zmqchat.client.chat.failures import ExitCode, ScriptError, classify
from zmqchat.client.chat.formatting import file_size
from zmqchat.client.console.exits import interruption
from zmqchat.client.console.runner import connected, note, write_line
from zmqchat.common.config import ClientConfig
from zmqchat.errors import BrokerError, ProtocolError, Timeout

Progress = Callable[[int, int], object]


class _Seen:
    """Where a transfer stands, for the note an interrupt leaves."""

    done = 0
    size = 0


@contextmanager
def progress_bar(label: str, err: TextIO, seen: _Seen | None = None) -> Iterator[Progress]:
    """A callback that draws a bar on ``err`` if it is a terminal (and none
    otherwise, so a script's stderr gets no carriage-return noise), noting where
    the transfer stands in ``seen``."""
    seen = seen if seen is not None else _Seen()
    if not err.isatty():

        def note_only(done: int, size: int) -> None:
            seen.done, seen.size = done, size

        yield note_only
        return
    bar = tqdm(
        desc=label, total=0, unit="B", unit_scale=True, unit_divisor=1024, file=err, leave=True
    )

    def update(done: int, size: int) -> None:
        seen.done, seen.size = done, size
        if bar.total != size:
            bar.total = size
        bar.n = done  # the broker's offset: a resumed transfer starts past 0
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def send(
    config: ClientConfig,
    *,
    paths: Sequence[str],
    room: str | None,
    to: str | None,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Send each file in turn; a refused one is reported and the rest still go."""
    out, err = out or sys.stdout, err or sys.stderr
    for path in paths:
        if not os.path.isfile(path):
            raise ScriptError(ExitCode.USAGE, f"{path}: not a file")
    refused: list[str] = []
    where = f"#{room}" if room is not None else to
    # A room's file is its members': the session joins it (as `tail` does).
    with connected(config, user, () if room is None else (room,), "file") as (client, _):
        for path in paths:
            name = Path(path).name
            seen = _Seen()
            try:
                with progress_bar(name, err, seen) as progress:
                    done = client.send_file(path, room=room, to=to, progress=progress)
            except (KeyboardInterrupt, RuntimeError) as exc:
                if interruption(exc) is None:
                    raise
                target = f"--room {room}" if room is not None else f"--to {to}"
                note("file", f"interrupted: {name}: {file_size(seen.done)} of "
                     f"{file_size(seen.size)} sent, kept by the broker for a while; to go on "
                     f"from there: zmqchat file send --user {client.user} {target} {path}",
                     err)  # fmt: skip
                raise
            except (BrokerError, ProtocolError) as exc:
                refused.append(f"{path} refused: {classify(exc).report}")
                note("file", refused[-1], err)
                continue
            except Timeout as exc:
                raise ScriptError(ExitCode.UNREACHABLE, f"broker unreachable: {exc}") from None
            if as_json:
                write_line(out, json.dumps({**done.to_wire(), "name": name, "path": path}))
            else:
                line = f"sent {name} ({file_size(done.size)}) to {where} as file {done.id}"
                write_line(out, line + (" (stored)" if done.status == "stored" else ""))
    if refused:
        raise ScriptError(
            ExitCode.REFUSED, f"{refused[0]} [{len(refused)} of {len(paths)} file(s) refused]"
        )
    return ExitCode.OK


def get(
    config: ClientConfig,
    *,
    file_id: int,
    output: str | None,
    rooms: Sequence[str] = (),
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Fetch one file, as a member of ``rooms`` (default: the configured rooms; a
    room's file is for its members); prints where it was saved."""
    out, err = out or sys.stdout, err or sys.stderr
    with connected(config, user, rooms or config.rooms, "file") as (client, _):
        seen = _Seen()
        try:
            with progress_bar(f"file {file_id}", err, seen) as progress:
                got = client.get_file(file_id, output, progress=progress)
        except (KeyboardInterrupt, RuntimeError) as exc:
            if interruption(exc) is None:
                raise
            where = "" if output is None else f" -o {output}"
            note("file", f"interrupted: file {file_id}: {file_size(seen.done)} of "
                 f"{file_size(seen.size)} kept in a part file; to go on from there: "
                 f"zmqchat file get {file_id}{where}", err)  # fmt: skip
            raise
        except (BrokerError, ProtocolError) as exc:
            raise ScriptError.of(classify(exc)) from None
        except Timeout as exc:
            raise ScriptError(ExitCode.UNREACHABLE, f"broker unreachable: {exc}") from None
    if got.resumed:
        note("file", f"went on from the {file_size(got.resumed)} a part file held", err)
    if as_json:
        record = {"id": got.id, "path": str(got.path), "name": got.name, "size": got.size,
                  "sha256": got.sha256, "resumed": got.resumed}  # fmt: skip
        write_line(out, json.dumps(record))
    else:
        write_line(out, str(got.path))
    return ExitCode.OK


__all__ = ["get", "progress_bar", "send"]
