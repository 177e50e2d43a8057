"""Run a command as a process group of its own in the terminal's foreground, so
that Ctrl-C reaches it alone. `make run` runs the broker through it.

Why: the terminal sends Ctrl-C's SIGINT to its whole foreground process group. GNU
make is in that group, and once it has had SIGINT it ends with status 130 ("make:
*** ... Interrupt" when its recipe did not exit 0), whatever the broker did with the
signal (it stops cleanly, with status 0). In a group of its own the broker alone
gets the signal; make sees it exit 0, and exits 0 too.

Ctrl-Z still suspends the whole job: when the command stops, this gives the
terminal back to its own group (make's), stops that group, and once the shell
continues it (``fg`` or ``bg``) continues the command, passing the terminal on to it
whenever the shell hands it to this group (``fg``, also after a ``bg``). sudo runs
its commands the same way.

Without a terminal, or outside its foreground (``make run &``), it just runs the
command. Exit status: the command's, or 128 + the signal that ended it.

    python scripts/foreground.py COMMAND [ARG...]
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from types import FrameType

# Passed on to the command, which a `kill` of this process means to reach.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Seconds between looks at the terminal while the job runs in the background.
BACKGROUND_POLL = 0.2


def give_terminal(tty: int, group: int) -> None:
    """Make ``group`` the terminal's foreground; from a background group too, which
    would otherwise be stopped by SIGTTOU for asking."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        with contextlib.suppress(OSError):  # the group may be gone already
            os.tcsetpgrp(tty, group)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def in_foreground(tty: int) -> bool:
    try:
        return os.isatty(tty) and os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False


def wait(tty: int, own: int, pid: int) -> int:
    """Wait for the command to end, keeping Ctrl-Z and the shell's ``fg`` and ``bg``
    working; returns its wait status."""
    while True:
        try:
            holder = os.tcgetpgrp(tty)
        except OSError:
            holder = pid
        if holder == own:  # the shell gave the job the terminal (fg): pass it on
            give_terminal(tty, pid)
            holder = pid
        if holder == pid:
            _, status = os.waitpid(pid, os.WUNTRACED)
        else:
            # In the background after a `bg`: the shell will not tell us when it
            # brings the job back (no SIGCONT for a running job), so look now and then.
            time.sleep(BACKGROUND_POLL)
            done, status = os.waitpid(pid, os.WUNTRACED | os.WNOHANG)
            if done == 0:
                continue
        if not os.WIFSTOPPED(status):
            return status
        # Ctrl-Z stopped the command: stop our own group as the shell expects (this
        # returns once the shell continues it), then carry on with the command.
        give_terminal(tty, own)
        os.killpg(own, signal.SIGTSTP)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)


def run(argv: list[str]) -> int:
    tty = sys.stdin.fileno()
    if not in_foreground(tty):
        os.execvp(argv[0], argv)
    own = os.getpgrp()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            give_terminal(tty, os.getpgrp())
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"foreground.py: {argv[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(127)
    # Both sides do it, so the group exists whichever runs first.
    with contextlib.suppress(OSError):  # the child has already exec'd
        os.setpgid(pid, pid)
    give_terminal(tty, pid)

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    try:
        status = wait(tty, own, pid)
    finally:
        # Back to make's group, unless the job was sent to the background meanwhile:
        # then the terminal is the shell's, not ours to give.
        with contextlib.suppress(OSError):
            if os.tcgetpgrp(tty) == pid:
                give_terminal(tty, own)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
