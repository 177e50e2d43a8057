"""A virtual X server for the GUI's tests and scripts: ``with virtual_display() as
display:`` starts Xvfb on a free display number (``-displayfd``: Xvfb picks it and
says which once it serves, so parallel runs never collide) and stops it after."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator

INSTALL_HINT = "install it with `apt-get install xvfb` (as root; .ci/run does this by itself)"


class XvfbError(RuntimeError):
    """Xvfb is missing, or did not start."""


@contextlib.contextmanager
def virtual_display(size: str = "1280x800x24", timeout: float = 20.0) -> Iterator[str]:
    """Run Xvfb while the block runs; yields its display name (``:7``)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise XvfbError(f"Xvfb, a virtual X server, is missing: {INSTALL_HINT}")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + timeout
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read], [], [], left)[0]:
                raise XvfbError(f"Xvfb did not start within {timeout:g}s")
            chunk = os.read(read, 16)
            if not chunk:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise XvfbError(f"Xvfb exited: {err[-2000:]}")
            number += chunk
        yield f":{number.decode().strip()}"
    finally:
        os.close(read)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@contextlib.contextmanager
def display_env(display: str) -> Iterator[None]:
    """``DISPLAY`` set to ``display`` while the block runs."""
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
