"""The JSON-lines records a load process keeps of what it was told.

One line per fact, as the library handed it over: ``chat_ack`` / ``pm_ack`` (the
broker acknowledged a message), ``chat`` / ``pm`` (an event was delivered to the
program), ``status`` (the connection changed), ``refused`` (a request ended in an
error or a timeout), ``stored_pm`` (a page of ``history with`` at the end), ``fresh``
(a fresh register), ``failed`` (the process itself broke). Every line names the
client (``c``) it is about; the file names the program.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Recorder:
    """Appends records to one file; several threads of a process share it."""

    def __init__(self, path: str | Path) -> None:
        # Line-buffered: a process that dies still leaves every finished line.
        self._file = Path(path).open("a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"k": kind, **fields}, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of one file; a last line cut short by a killed writer is skipped."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.endswith("\n"):
                yield json.loads(line)
