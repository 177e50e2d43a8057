"""The connect form's answers from the last run (name, host, port, and every broker
node when it named several), kept as JSON in
the user config dir beside ``client.toml``. That file is the user's, edited by
hand; this one is the program's, rewritten on every successful connect."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Final

from zmqchat.common.config import default_config_dir
from zmqchat.common.endpoints import check_endpoints
from zmqchat.errors import UsageError

log = logging.getLogger("zmqchat.gui")

PREFS_FILE: Final = "gui.json"


@dataclasses.dataclass(frozen=True, slots=True)
class LastConnect:
    user: str | None = None
    host: str | None = None
    port: int | None = None
    # Every node, when there were several (host and port: the first's).
    endpoints: tuple[str, ...] = ()


def prefs_path() -> Path:
    return default_config_dir() / PREFS_FILE


def load_last(path: Path | None = None) -> LastConnect:
    """What was remembered; nothing when the file is missing or unreadable (a
    broken file must not keep the window from opening)."""
    path = path or prefs_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LastConnect()
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return LastConnect()
    if not isinstance(raw, dict):
        return LastConnect()
    user, host, port = raw.get("user"), raw.get("host"), raw.get("port")
    return LastConnect(
        user if isinstance(user, str) else None,
        host if isinstance(host, str) else None,
        port if isinstance(port, int) and not isinstance(port, bool) else None,
        _endpoints(raw.get("endpoints")),
    )


def _endpoints(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        return ()
    try:
        return check_endpoints(raw)
    except UsageError:
        return ()


def save_last(last: LastConnect, path: Path | None = None) -> None:
    """Remember ``last``; a failure to write is logged, never raised."""
    path = path or prefs_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        fields = dataclasses.asdict(last)
        if not last.endpoints:
            del fields["endpoints"]  # one node: the file stays as it always was
        else:
            fields["endpoints"] = list(last.endpoints)
        temporary.write_text(json.dumps(fields, indent=2) + "\n", "utf-8")
        os.replace(temporary, path)  # never a half-written file
    except OSError as exc:
        log.warning("could not remember the connect settings in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            path.with_suffix(".tmp").unlink()


__all__ = ["PREFS_FILE", "LastConnect", "load_last", "prefs_path", "save_last"]
