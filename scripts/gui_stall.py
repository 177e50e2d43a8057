"""How long the GUI's Tk loop stalls while a burst of messages floods a room.

    .venv/bin/python scripts/gui_stall.py [--count 10000] [--window 500] [--runs 3]

Starts a broker (rate limit off), an Xvfb (unless --display is given), the GUI in
this process looking at #general, and a flooder in a process of its own that
keeps ``--window`` messages in flight until ``--count`` are sent. The Tk loop runs
as it does for a user (``mainloop``); a 10 ms ``after()`` ticker records the
longest gap between ticks, from the first message of the burst until its last
one is on screen. Prints one line per run and exits 1 if any gap exceeded
``--goal`` milliseconds (default 100).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

from xvfb import display_env, virtual_display

from zmqchat import Client
from zmqchat.client.gui.tk_app import GuiApp
from zmqchat.common.config import ClientConfig
from zmqchat.testing import BrokerProcess


def flood(endpoint: str, count: int, window: int) -> None:
    """The flooder's side: ``count`` messages into #general, ``window`` in flight."""
    # Its own burst comes back to it too: room for all of it, unread.
    with Client("flood", endpoint, rooms=["general"], max_events=count + 100) as client:
        print("ready", flush=True)
        sys.stdin.readline()  # go
        pending = []
        for n in range(count):
            pending.append(client.send_async("general", f"burst {n}"))
            if len(pending) >= window:
                pending.pop(0).result(30)
        for future in pending:
            future.result(30)
        print("sent", flush=True)
        sys.stdin.readline()  # stay until told, so no leave line follows the burst


def measure(broker: BrokerProcess, count: int, window: int, run: int) -> dict[str, float]:
    flooder = subprocess.Popen(
        [sys.executable, __file__, "--flood", broker.endpoint, str(count), str(window)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stdin, stdout = flooder.stdin, flooder.stdout
    assert stdin is not None
    assert stdout is not None
    try:
        assert stdout.readline().strip() == "ready"
        root = tk.Tk()
        app = GuiApp(
            root,
            ClientConfig(port=broker.port),
            user=f"watcher{run}",
            host="127.0.0.1",
            port=broker.port,
            prefs=Path(tempfile.mkdtemp()) / "gui.json",
        )
        assert app.form is not None
        app.form.submit()
        last = f"<flood> burst {count - 1}"
        result: dict[str, float] = {}
        started = 0.0

        def ready() -> bool:
            pane = app.window.panes.get("#general") if app.window else None
            return pane is not None and "you are in #general" in pane.text.get("1.0", "end")

        def watch() -> None:
            nonlocal started
            if not started:
                if ready():
                    app.meter.reset()
                    started = time.perf_counter()
                    stdin.write("go\n")
                    stdin.flush()
                root.after(20, watch)
                return
            pane = app.window.panes["#general"] if app.window else None
            # The last lines only: reading all 10,000 would stall the loop measured.
            if pane is not None and last in pane.text.get("end-4l", "end-1c"):
                result.update(
                    seconds=time.perf_counter() - started,
                    longest_ms=app.meter.longest * 1000,
                    over_100ms=app.meter.slow,
                    ticks=app.meter.ticks,
                    lines=pane.line_count(),
                )
                app.close()
                return
            root.after(20, watch)

        root.after(20, watch)
        root.mainloop()
        return result
    finally:
        with contextlib.suppress(BrokenPipeError, ValueError):
            stdin.write("done\n")
            stdin.close()
        flooder.wait(30)


@contextlib.contextmanager
def display(given: str | None) -> Iterator[str]:
    if given:
        with display_env(given):
            yield given
    else:
        with virtual_display() as virtual, display_env(virtual):
            yield virtual


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="messages per burst")
    parser.add_argument("--window", type=int, default=500, help="messages in flight")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--goal", type=float, default=100.0, help="longest gap allowed, ms")
    parser.add_argument("--display", help="an X display to use instead of a new Xvfb")
    parser.add_argument("--flood", nargs=3, metavar=("ENDPOINT", "COUNT", "WINDOW"))
    args = parser.parse_args()
    if args.flood:
        endpoint, count, window = args.flood
        flood(endpoint, int(count), int(window))
        return 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp, display(args.display):
        broker = BrokerProcess(tmp, settings={"rate_limit": 0}, log_level="warning").start()
        try:
            for run in range(args.runs):
                result = measure(broker, args.count, args.window, run)
                # The Tk interpreter of that run must be freed on this thread, now,
                # not by a collection that happens to run on a client thread.
                gc.collect()
                worst = max(worst, result["longest_ms"])
                print(json.dumps({"run": run, "count": args.count, **result}), flush=True)
        finally:
            broker.kill()
    print(f"longest Tk stall over {args.runs} run(s): {worst:.0f} ms (goal {args.goal:g} ms)")
    return 0 if worst <= args.goal else 1


if __name__ == "__main__":
    sys.exit(main())
