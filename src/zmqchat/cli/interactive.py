"""The interactive clients: ``zmqchat chat`` (a terminal) and ``zmqchat gui`` (Tk).

Their help lists the slash commands from the chat's command table and the exit
statuses by :class:`~zmqchat.client.console.exits.ExitCode`, so neither can fall
behind what the clients do.
"""

from __future__ import annotations

import argparse
import sys
from typing import Final

from zmqchat.cli.helptext import exit_statuses, slash_commands
from zmqchat.cli.options import Subparsers, client_command, client_config
from zmqchat.client.console.exits import ExitCode
from zmqchat.errors import ZmqchatError

CHAT_AFTER_COMMANDS: Final = (
    "Any other line is said in the current room (shown in the prompt); joining a "
    "room shows its last 20 messages, marked as history. The bottom bar shows your "
    "name, the current room, unread counts of your other rooms and the connection "
    "state; when the broker restarts the client reconnects by itself and fills the gap."
)

CHAT_EXAMPLES: Final = """\
examples:
  zmqchat chat                                    asks your name, joins general
  zmqchat chat --user alice --room general --room dev
  zmqchat chat --host 192.168.1.20 --port 5555 --connect-timeout 10
  zmqchat chat --user alice --password-file ~/.zmqchat-password
                                                  a name with an account
"""

CHAT_EXITS: Final = {
    ExitCode.OK: "you left (/quit, Ctrl-D, Ctrl-C)",
    ExitCode.REFUSED: "the broker refused (other than a name, which is asked again) or "
    "ended the session",
    ExitCode.USAGE: "usage or configuration error",
    ExitCode.UNREACHABLE: "broker unreachable: no answer within --connect-timeout",
    ExitCode.HUNG_UP: "the terminal was closed (SIGHUP)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C) while connecting",
    ExitCode.TERMINATED: "terminated (SIGTERM)",
}
CHAT_EXITS_NOTE: Final = "(129 and 143 leave as /quit does: the name is free at once)"

GUI_WINDOW: Final = """\
the window:
  left      rooms joined (with unread counts) and private conversations; the
            field below joins a room; right-click to leave or close one
  centre    the conversation: the last 50 messages on joining, marked as
            history, scrolled to the newest; scroll to the top for older ones;
            a "new" line marks where what you have not seen starts
  right     who is in the room; double-click a name to talk privately
  bottom    the input (the keys below; the console's /commands work too)
            and the status bar (you, the broker, connected / reconnecting…)
  It reconnects by itself when the broker restarts and fills the gap.
"""

GUI_EXAMPLES: Final = """\
The connect form asks for the name, host and port (remembered from the last time
you connected with it) unless --user and the broker are given: --host and --port,
or broker nodes (--endpoint, ZMQCHAT_ENDPOINTS, `endpoints` in client.toml), all of
which it then uses (and nothing is remembered). Several nodes go in the form's host
field as host:port, separated by commas. The form asks for a password for a name
with an account (left empty, the one from --password-file or $ZMQCHAT_PASSWORD is
used).

examples:
  zmqchat gui                                     asks, then connects
  zmqchat gui --user alice --host 127.0.0.1 --port 5555 --room general --room dev
  zmqchat gui --user bob --endpoint tcp://127.0.0.1:5555 --endpoint tcp://127.0.0.1:5565
"""

GUI_EXITS: Final = {
    ExitCode.OK: "the window was closed",
    # Refusals and an unreachable broker are shown in the window, which stays open:
    # 1 is left for failing to open one.
    ExitCode.REFUSED: "no window could be opened (no display)",
    ExitCode.USAGE: "usage or configuration error",
}


def chat_epilog() -> str:
    from zmqchat.client.chat.keys import CONSOLE_KEYS

    return "\n".join(
        (
            slash_commands("in the chat:", keys=CONSOLE_KEYS, after=CHAT_AFTER_COMMANDS),
            CHAT_EXAMPLES,
            exit_statuses(CHAT_EXITS, note=CHAT_EXITS_NOTE),
        )
    )


def gui_epilog() -> str:
    from zmqchat.client.chat.keys import GUI_KEYS

    return "\n".join(
        (
            GUI_WINDOW,
            slash_commands("in the input line:", keys=GUI_KEYS),
            GUI_EXAMPLES,
            exit_statuses(GUI_EXITS),
        )
    )


def add_interactive_commands(sub: Subparsers) -> None:
    """``chat`` and ``gui``: the client options and --room."""
    clients = (
        (
            "chat",
            "chat interactively in a terminal",
            "The console client: rooms, private messages and history in a terminal. "
            "Incoming messages print above the line you are typing.",
            chat_epilog,
            _run_chat,
        ),
        (
            "gui",
            "chat in a desktop window (Tk)",
            "The desktop client: rooms, private conversations and history in a window, "
            "on the same client library as the console and the bots.",
            gui_epilog,
            _run_gui,
        ),
    )
    for name, summary, description, epilog, run in clients:
        p = client_command(sub, name, help=summary, description=description, epilog=epilog)
        p.add_argument(
            "--room",
            action="append",
            default=[],
            metavar="R",
            help="room to join on connect; repeat for several; the first is the current "
            "one (default: `rooms` of client.toml, general), e.g. --room dev",
        )
        p.set_defaults(func=run)


def _run_chat(args: argparse.Namespace) -> int:
    from zmqchat.client.console.interactive import run_chat

    config = client_config(args)
    return run_chat(config, user=config.user, rooms=args.room or None)


def _run_gui(args: argparse.Namespace) -> int:
    from zmqchat.client.console.arguments import room_arg

    config = client_config(args)
    try:
        rooms = [room_arg(r) for r in args.room] or None
    except ZmqchatError as exc:
        print(f"zmqchat gui: {exc}", file=sys.stderr)
        return 2
    try:
        from zmqchat.client.gui.tk_app import run_gui
    except ImportError as exc:  # a Python built without tkinter
        print(f"zmqchat gui: tkinter is missing ({exc}); install python3-tk", file=sys.stderr)
        return 1
    from zmqchat.client.chat.passwords import configured_password

    password = configured_password(config)  # a bad password file: exit 2, said on stderr
    # The flags as given (None when absent): they beat the name and server the
    # last run remembered, which beat the config file. Broker nodes given as a list
    # (--endpoint, ZMQCHAT_ENDPOINTS, client.toml) are read as `zmqchat chat` reads
    # them, and used as they are, every one of them.
    return run_gui(
        config,
        user=args.user,
        host=args.host,
        port=args.port,
        endpoints=config.endpoints or None,
        rooms=rooms,
        password=password,
    )


__all__ = ["add_interactive_commands", "chat_epilog", "gui_epilog"]
