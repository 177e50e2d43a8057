"""Logging set-up shared by the commands: one line per event, to stderr."""

from __future__ import annotations

import logging
import sys
from typing import Final

LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")


def setup_logging(level: str) -> None:
    """Send zmqchat's log records to stderr at ``level``, one of :data:`LOG_LEVELS`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("zmqchat")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
