"""The ``zmqchat`` command and its subcommands."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from zmqchat._version import __version__
from zmqchat.common.config import LOG_LEVELS, BrokerConfig, ClientConfig, load_config
from zmqchat.errors import ConfigError
from zmqchat.logs import setup_logging

BROKER_EPILOG = """\
settings come from, lowest first: built-in defaults, a TOML file (--config, or
$ZMQCHAT_CONFIG, or broker.toml in the user config dir), ZMQCHAT_* environment
variables (ZMQCHAT_TIMEOUT=30, ZMQCHAT_RATE_LIMIT=0, ...), then these flags.
See config/broker.toml for every key.

examples:
  zmqchat broker                                  loopback, ports 5555/5556
  zmqchat broker --host 0.0.0.0                   open to the LAN
  zmqchat broker --port 0 --pub-port 0 --ready-file /tmp/b.json --db /tmp/t.db
  ZMQCHAT_RATE_LIMIT=0 zmqchat broker --log-level debug
"""


def _add_broker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "broker",
        help="run the broker",
        description="Run the zmqchat broker: a ROUTER for requests, a PUB for room events, "
        "history in SQLite. SIGINT/SIGTERM stop it cleanly.",
        epilog=BROKER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="TOML file with broker settings")
    p.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for the LAN)")
    p.add_argument("--port", type=int, help="ROUTER port for requests (default 5555; 0 = any)")
    p.add_argument("--pub-port", type=int, help="PUB port for room events (default 5556; 0 = any)")
    p.add_argument("--db", metavar="FILE", help="SQLite store (default: DATA_DIR/zmqchat.db)")
    p.add_argument("--data-dir", metavar="DIR", help="store directory (default: user data dir)")
    p.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity (default info)")
    p.add_argument(
        "--ready-file",
        metavar="PATH",
        help="write the bound endpoints as JSON to PATH once serving (for tests and supervisors)",
    )
    p.add_argument("--parent-pid", type=int, metavar="PID", help="exit when process PID is gone")
    p.set_defaults(func=_run_broker)


def _run_broker(args: argparse.Namespace) -> int:
    from zmqchat.broker.server import BindError, BrokerServer
    from zmqchat.broker.store import StoreError

    overrides = {
        key: getattr(args, key)
        for key in ("host", "port", "pub_port", "db", "data_dir", "log_level")
    }
    try:
        config = load_config(
            BrokerConfig, file=args.config, overrides=overrides, default_file="broker.toml"
        )
    except ConfigError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    server = BrokerServer(config, ready_file=args.ready_file, parent_pid=args.parent_pid)
    try:
        server.bind()
    except BindError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 1

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return server.run()
    except StoreError as exc:
        print(f"zmqchat broker: {exc}", file=sys.stderr)
        return 1


CLIENT_SETTINGS = """\
settings come from, lowest first: built-in defaults, a TOML file (--config, or
$ZMQCHAT_CONFIG, or client.toml in the user config dir), ZMQCHAT_HOST /
ZMQCHAT_PORT / ZMQCHAT_USER / ZMQCHAT_CONNECT_TIMEOUT, then these flags.
See config/client.toml for every key.
"""


def add_client_options(p: argparse.ArgumentParser, *, user: bool = True) -> None:
    """The options every client command shares, read by :func:`client_config`."""
    p.add_argument("--config", metavar="FILE", help="TOML file with client settings")
    p.add_argument("--host", help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="broker ROUTER port (default 5555)")
    if user:
        p.add_argument("--user", help="name to register as")
    p.add_argument(
        "--connect-timeout",
        type=float,
        metavar="S",
        help="give up when the broker does not answer within S seconds (default 5)",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity (default warning)")


def client_config(args: argparse.Namespace, **overrides: object) -> ClientConfig:
    """The client settings for a command: its flags over env, TOML and defaults.

    Raises ConfigError, which :func:`main` reports as a one-line error (exit 2).
    """
    flags = {
        key: getattr(args, key, None)
        for key in ("host", "port", "user", "connect_timeout", "log_level")
    }
    flags.update(overrides)
    config = load_config(
        ClientConfig, file=args.config, overrides=flags, default_file="client.toml"
    )
    setup_logging(config.log_level)
    return config


# ------------------------------------------------------------ scripting commands
#
# Each is a thin layer over zmqchat.client.console.oneshot, which holds their logic and
# their exit status scheme; scripting.run turns every error into one stderr line.


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def _seq(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {value}")
    return number


def _script_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    examples: str,
    tail: bool = False,
) -> argparse.ArgumentParser:
    from zmqchat.client.console.oneshot import exit_status_help

    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"examples:\n{examples}\n{exit_status_help(tail=tail)}\n{CLIENT_SETTINGS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_client_options(p, user=False)
    p.add_argument(
        "--user",
        help=f"name to register as (default {name}-HOST-PID, unique per process, so "
        "many can run at once; the `user` of client.toml is for `chat` only)",
    )
    return p


def _add_send(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _script_parser(
        sub,
        "send",
        help="say something in a room (from the arguments, or one message per stdin line)",
        description="Send TEXT to a room, or with `-` (or no TEXT and a pipe on stdin) one "
        "message per line of stdin, blank lines skipped. Returns once every message is "
        "acknowledged: stored by the broker, never to be lost. A refused message does not "
        "stop the others; the first one refused is named on stderr and the exit status is 1.",
        examples="""\
  zmqchat send --room general hello from a script
  zmqchat send --room ci --data '{"build": 42, "ok": true}' build 42 passed
  printf 'one\\ntwo\\n' | zmqchat send --room general -      two messages
  while sleep 60; do uptime; done | zmqchat send --room ops --user uptime-bot
  zmqchat send --host 10.0.0.5 --port 5555 --connect-timeout 2 --room ops ping
""",
    )
    p.add_argument("--room", required=True, help="room to send to, e.g. --room general")
    p.add_argument(
        "--data",
        metavar="JSON",
        help="a JSON object sent with every message for bots to read, e.g. '{\"ok\": true}'",
    )
    p.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="the message (words are joined by spaces); `-` reads stdin instead",
    )
    p.set_defaults(func=_run_send)


def _run_send(args: argparse.Namespace) -> int:
    from zmqchat.client.console import oneshot as scripting

    return scripting.run(
        "send",
        lambda: scripting.send(
            client_config(args), room=args.room, texts=args.text, data=args.data, user=args.user
        ),
    )


def _add_tail(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _script_parser(
        sub,
        "tail",
        help="print room events as they arrive, as text or JSON lines",
        description="Join rooms and print each event (messages, joins and leaves, private "
        "messages to this user, broker notices) on one line as it arrives, flushed at once, "
        "so it can feed grep, jq or head. --last and --since first print messages from "
        "history (joins and leaves too with --presence). Connection changes are reported "
        "on stderr; it reconnects by itself. Events counted by --count include those "
        "printed from history.",
        examples="""\
  zmqchat tail                                   everything said in general
  zmqchat tail --room dev --room ops --json | jq -r 'select(.type == "chat") | .text'
  zmqchat tail --room ci --json --no-presence --count 1 --timeout 600
                                                 wait for the next message
  zmqchat tail --room general --last 20          the last 20 messages, then live
  zmqchat tail --room general --since 1200 --presence
                                                 every event after seq 1200, then live
""",
        tail=True,
    )
    p.add_argument(
        "--room",
        action="append",
        default=[],
        metavar="R",
        help="room to follow; repeat for several (default: `rooms` of client.toml, general)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line with every field of the event "
        '(e.g. {"type":"chat","room":"general","seq":7,"from":"alice","text":"hi","ts":...})',
    )
    p.add_argument(
        "--count",
        type=_positive_int,
        metavar="N",
        help="exit (status 0) after N events, e.g. --count 1 to wait for the next one",
    )
    backlog = p.add_mutually_exclusive_group()
    backlog.add_argument(
        "--since",
        type=_seq,
        metavar="SEQ",
        help="first print the messages after seq SEQ from history (per room), e.g. --since 0",
    )
    backlog.add_argument(
        "--last",
        type=_positive_int,
        metavar="N",
        help="first print the last N messages of each room from history, e.g. --last 20",
    )
    p.add_argument(
        "--presence",
        action=argparse.BooleanOptionalAction,
        help="joins and leaves: by default printed live but skipped in the history of "
        "--last/--since (every script command leaves a join and a leave there); "
        "--presence prints and counts them from history too; --no-presence never "
        "prints them, so --count 1 waits for a message, not for someone coming or going",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="stop after S seconds in all; with --count not reached, exit status 4",
    )
    p.set_defaults(func=_run_tail)


def _run_tail(args: argparse.Namespace) -> int:
    from zmqchat.client.console import oneshot as scripting

    return scripting.run(
        "tail",
        lambda: scripting.tail(
            client_config(args),
            rooms=args.room,
            user=args.user,
            as_json=args.json,
            count=args.count,
            since=args.since,
            last=args.last,
            timeout=args.timeout,
            presence=args.presence,
        ),
    )


def _add_pm(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _script_parser(
        sub,
        "pm",
        help="send a private message to an online user",
        description="Send TEXT privately to USER, who must be online; returns once the "
        "broker delivered it. Fails with no_such_user or user_offline otherwise.",
        examples="""\
  zmqchat pm alice the build is green
  zmqchat pm --user deploy-bot --data '{"version": "1.4.2"}' bob deployed 1.4.2
""",
    )
    p.add_argument("--data", metavar="JSON", help="a JSON object sent along, e.g. '{\"ok\": true}'")
    p.add_argument("to", metavar="USER", help="who gets it, e.g. alice")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the message (words joined by spaces)")
    p.set_defaults(func=_run_pm)


def _run_pm(args: argparse.Namespace) -> int:
    from zmqchat.client.console import oneshot as scripting

    return scripting.run(
        "pm",
        lambda: scripting.pm(
            client_config(args), to=args.to, texts=args.text, data=args.data, user=args.user
        ),
    )


def _add_who(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _script_parser(
        sub,
        "who",
        help="list the users online, or in a room",
        description="Print the users online (or in ROOM), one name per line; when there "
        "are none, a note on stderr says so (with --json, `[]`).",
        examples="""\
  zmqchat who
  zmqchat who --room dev
  zmqchat who --json | jq length
""",
    )
    p.add_argument("--room", metavar="R", help="only the members of room R, e.g. --room dev")
    p.add_argument("--json", action="store_true", help='a JSON array, e.g. ["alice","bob"]')
    p.set_defaults(func=_run_who)


def _run_who(args: argparse.Namespace) -> int:
    from zmqchat.client.console import oneshot as scripting

    return scripting.run(
        "who",
        lambda: scripting.who(
            client_config(args), room=args.room, as_json=args.json, user=args.user
        ),
    )


def _add_rooms(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _script_parser(
        sub,
        "rooms",
        help="list the rooms that have members",
        description="Print each room with members: its name, member count and last seq; "
        "when there are none, a note on stderr says so (with --json, `[]`).",
        examples="""\
  zmqchat rooms
  zmqchat rooms --json | jq -r '.[].name'
""",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='a JSON array, e.g. [{"name":"general","members":3,"seq":42}]',
    )
    p.set_defaults(func=_run_rooms)


def _run_rooms(args: argparse.Namespace) -> int:
    from zmqchat.client.console import oneshot as scripting

    return scripting.run(
        "rooms", lambda: scripting.rooms(client_config(args), as_json=args.json, user=args.user)
    )


def _add_history(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _script_parser(
        sub,
        "history",
        help="print the last messages of a room",
        description="Print the last messages of ROOM from the broker's store, oldest first, "
        "one per line. Joins and leaves are skipped (every script command leaves one of "
        "each, as only members may read a room: this one joins it for the moment) unless "
        "--presence is given. A room with nothing to show prints nothing and, unless "
        "--json, says so on stderr.",
        examples="""\
  zmqchat history general
  zmqchat history ci --limit 200 --json | jq -r 'select(.data.ok == false) | .text'
  zmqchat history general --presence --limit 10   who came and went, among the messages
""",
    )
    p.add_argument("room", metavar="ROOM", help="the room, e.g. general")
    p.add_argument(
        "--limit",
        type=_positive_int,
        default=50,
        metavar="N",
        help="how many messages (or events, with --presence) (default 50)",
    )
    p.add_argument(
        "--presence",
        action="store_true",
        help="print and count joins and leaves too, e.g. --presence --limit 10",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line, as `tail --json`")
    p.set_defaults(func=_run_history)


def _run_history(args: argparse.Namespace) -> int:
    from zmqchat.client.console import oneshot as scripting

    return scripting.run(
        "history",
        lambda: scripting.history(
            client_config(args),
            room=args.room,
            limit=args.limit,
            as_json=args.json,
            presence=args.presence,
            user=args.user,
        ),
    )


CHAT_EPILOG = """\
in the chat:
  text                    say it in the current room (shown in the prompt)
  /join ROOM              join a room (created if new) and talk there; shows its
                          last 20 messages, marked as history
  /leave [ROOM]           leave a room (default: the current one)
  /room ROOM              switch the room your lines go to
  /msg USER TEXT          private message; shortcut: @USER TEXT
  /who [ROOM|*]           who is in the current room, ROOM, or online (*)
  /rooms                  rooms that have members
  /history [N]            the last N messages of the current room (default 20)
  /me ACTION              /me waves  ->  * alice waves
  /help, /quit            this list; leave (also Ctrl-D or Ctrl-C)
  Tab completes commands, rooms and names. The bottom bar shows your name, the
  current room, unread counts of your other rooms and the connection state; when
  the broker restarts the client reconnects by itself and fills the gap.

examples:
  zmqchat chat                                    asks your name, joins general
  zmqchat chat --user alice --room general --room dev
  zmqchat chat --host 192.168.1.20 --port 5555 --connect-timeout 10

exit status:
  0    you left (/quit, Ctrl-D, Ctrl-C)
  1    the broker refused (other than a name, which is asked again) or ended the
       session
  2    usage or configuration error
  3    broker unreachable: no answer within --connect-timeout
  129  the terminal was closed (SIGHUP)
  143  terminated (SIGTERM)
       (both leave as /quit does: the name is free at once)
"""


def _add_chat_ui(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    epilog: str,
) -> None:
    """The parser of an interactive client (`chat`, `gui`): client options, --room."""
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"{epilog}\n{CLIENT_SETTINGS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_client_options(p)
    p.add_argument(
        "--room",
        action="append",
        default=[],
        metavar="R",
        help="room to join on connect; repeat for several; the first is the current "
        "one (default: `rooms` of client.toml, general), e.g. --room dev",
    )
    p.set_defaults(func=func)


def _add_chat(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_chat_ui(
        sub,
        "chat",
        _run_chat,
        help="chat interactively in a terminal",
        description="The console client: rooms, private messages and history in a "
        "terminal. Incoming messages print above the line you are typing.",
        epilog=CHAT_EPILOG,
    )


def _run_chat(args: argparse.Namespace) -> int:
    from zmqchat.client.console.interactive import run_chat

    config = client_config(args)
    return run_chat(config, user=config.user, rooms=args.room or None)


GUI_EPILOG = """\
the window:
  left      rooms joined (with unread counts) and private conversations; the
            field below joins a room; right-click to leave or close one
  centre    the conversation: the last 50 messages on joining, marked as
            history; scroll to the top for older ones
  right     who is in the room; double-click a name to talk privately
  bottom    the input line (Enter sends, Up recalls, Tab completes, and the
            console's /commands work: /join, /msg, /me, /who, /help, ...) and
            the status bar (you, the broker, connected / reconnecting…)
  It reconnects by itself when the broker restarts and fills the gap.

The connect form asks for the name, host and port (remembered from the last run)
unless --user, --host and --port are all given.

examples:
  zmqchat gui                                     asks, then connects
  zmqchat gui --user alice --host 127.0.0.1 --port 5555 --room general --room dev

exit status:
  0    the window was closed
  1    no window could be opened (no display)
  2    usage or configuration error
"""


def _add_gui(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_chat_ui(
        sub,
        "gui",
        _run_gui,
        help="chat in a desktop window (Tk)",
        description="The desktop client: rooms, private conversations and history in "
        "a window, on the same client library as the console and the bots.",
        epilog=GUI_EPILOG,
    )


def _run_gui(args: argparse.Namespace) -> int:
    from zmqchat.client.console.oneshot import ScriptError, room_arg

    config = client_config(args)
    try:
        rooms = [room_arg(r) for r in args.room] or None
    except ScriptError as exc:
        print(f"zmqchat gui: {exc.message}", file=sys.stderr)
        return 2
    try:
        from zmqchat.client.gui.tk_app import run_gui
    except ImportError as exc:  # a Python built without tkinter
        print(f"zmqchat gui: tkinter is missing ({exc}); install python3-tk", file=sys.stderr)
        return 1
    # The flags as given (None when absent): they beat the name and server the
    # last run remembered, which beat the config file.
    return run_gui(config, user=args.user, host=args.host, port=args.port, rooms=rooms)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zmqchat",
        description="zmqchat: rooms, private messages and durable history over ZeroMQ.",
    )
    parser.add_argument("--version", action="version", version=f"zmqchat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_broker(sub)
    for add in (
        _add_chat,
        _add_gui,
        _add_send,
        _add_tail,
        _add_pm,
        _add_who,
        _add_rooms,
        _add_history,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"zmqchat {args.command}: {exc}", file=sys.stderr)
        return 2
    return code
