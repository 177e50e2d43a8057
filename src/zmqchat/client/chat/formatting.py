"""How events look on a terminal: one formatter for ``zmqchat tail`` and the console.

Every function returns a :data:`Line`, a list of ``(style, text)`` fragments. The
styles are class names only (``class:time``, ``class:nick.c3``, ...), so the console
maps them to colours with a prompt_toolkit ``Style``, a Tk GUI can map them to text
tags, and :func:`plain` joins the texts for scripts. Pure: no I/O, no UI imports.

Lines older than today carry their date, and a line between two events of
different days names the day (:mod:`.timestamps`).

Text that came over the wire is made safe to print here: control characters (which
could move the cursor or recolour the terminal) are shown in caret notation, and a
newline inside a message becomes ``↵`` so each event stays on one line, unless the
caller asks for ``multiline`` lines (a message's lines under its sender, laid out by
:mod:`.layout`).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

from zmqchat.client.chat.layout import hang, message_lines
from zmqchat.client.chat.mentions import is_mention, mark_line, mark_mentions
from zmqchat.client.chat.timestamps import format_time
from zmqchat.client.core.events import Event, StatusEvent
from zmqchat.common.durations import duration_text
from zmqchat.common.files import FileEvent, PrivateFileEvent
from zmqchat.common.files import human_size as file_size
from zmqchat.common.messages import (
    ChatEvent,
    DeleteEvent,
    EditEvent,
    PmEvent,
    PresenceEvent,
    Record,
    SystemEvent,
)
from zmqchat.common.moderation import ModerationEvent, TopicEvent

Fragment = tuple[str, str]
Line = list[Fragment]
# The style class that names the message a line shows (see message_mark).
MESSAGE_MARK: Final = "msg."
# The style class that names the file a file line shows: ``class:file.id.ID``.
FILE_MARK: Final = "file.id."

# Number of sender colours (``class:nick.c0`` .. ``class:nick.c<N-1>``); a UI defines
# one colour per class.
NICK_COLOURS: Final = 8
# The ``data`` map a console sends with ``/me`` (IRC's CTCP ACTION): the text is
# the action, shown as ``* alice waves``.
EMOTE_DATA: Final[Mapping[str, Any]] = {"emote": True}

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINE: Final = re.compile(r"\r\n|\r|\n")


def plain(line: Iterable[Fragment]) -> str:
    """The text of a line without its styles (what ``tail`` prints)."""
    return "".join(text for _, text in line)


def safe_text(text: str) -> str:
    """``text`` on one line with every control character made visible."""
    text = _NEWLINE.sub(" ↵ ", text).replace("\t", " ")
    return _CONTROL.sub(_caret, text)


def _caret(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)
    return "^?" if code == 0x7F else f"\\x{code:02x}"


def nick_style(name: str) -> str:
    """The style class of a sender: the same colour for a name in every process and
    session (crc32, unlike ``hash``, is not salted per process), whatever its case."""
    return f"class:nick.c{zlib.crc32(name.lower().encode()) % NICK_COLOURS}"


def is_emote(event: ChatEvent) -> bool:
    return event.data is not None and event.data.get("emote") is True


def format_event(
    event: Event,
    *,
    me: str | None = None,
    history: bool = False,
    now: float | None = None,
    compact: bool = False,
    multiline: bool = False,
    sent: float | None = None,
) -> Line:
    """One event as a line. ``me`` (the viewer's name) decides the direction of a
    private message and highlights a room's line that names them (see
    :mod:`.mentions`); ``history`` marks a line that came from the store, not live.

    ``compact`` is for a UI that shows each conversation in a pane of its own (a
    GUI): no ``#room`` tag, and a private message reads like a chat line.
    ``multiline``: a message of several lines keeps them, each under the first
    (:func:`~.layout.hang`), where the default shows ``↵`` to stay on one line.
    ``sent``: for an edit or delete, when the message it changes was sent."""
    if isinstance(event, StatusEvent):
        return format_status(event)
    line: Line = [("class:time", format_time(event.ts, now)), ("", " ")]
    if isinstance(event, PmEvent) and compact:
        line = _said(line, event, text_style="class:pm.text", multiline=multiline)
    elif isinstance(event, ChatEvent):
        if not compact:
            line += _room(event.room)
        mine = me if me is not None and is_mention(event, me) else None
        line = _said(line, event, text_style="class:text", multiline=multiline, me=mine)
        if mine is not None:
            line = mark_line(line)
    elif isinstance(event, EditEvent | DeleteEvent):
        if not compact:
            line += _room(event.room)
        line = _changed(line, event, multiline, sent)
    elif isinstance(event, PresenceEvent):
        if not compact:
            line += _room(event.room)
        if event.event == "join":
            line.append(("class:presence", f"→ {event.user} joined"))
        else:
            reason = f" ({event.reason})" if event.reason else ""
            line.append(("class:presence", f"← {event.user} left{reason}"))
    elif isinstance(event, TopicEvent | ModerationEvent):
        if not compact:
            line += _room(event.room)
        line += room_change(event)
    elif isinstance(event, PmEvent):
        outgoing = me is not None and event.sender.lower() == me.lower()
        peer = event.to if outgoing else event.sender
        label = "[pm to " if outgoing else "[pm from "
        line += [("class:pm", label), (nick_style(peer), peer), ("class:pm", "]"), ("", " ")]
        line = hang(line, _text_lines(event.text, "class:pm.text", multiline))
        if event.data:
            line += [("", " "), ("class:data", safe_text(to_json(event.data)))]
    elif isinstance(event, SystemEvent):
        line.append(("class:system", f"*** {safe_text(event.text)}"))
    elif isinstance(event, FileEvent | PrivateFileEvent):
        line = _file_line(line, event, me, compact)
    if history:
        # Dim the whole line: it is a replay, not something that just happened.
        line = [(f"class:history {style}" if style else "class:history", t) for style, t in line]
    return line


def message_mark(event: Event) -> Fragment | None:
    """A fragment without text that names the room message a line shows (a chat,
    or the one an edit changed): style ``class:msg.SEQ``. A UI that acts on a line
    (the GUI's menu on a message) reads it; a terminal draws nothing for it. None
    for other lines, and for a deleted message (nothing is left to act on)."""
    if isinstance(event, ChatEvent) and not event.deleted:
        return (f"class:{MESSAGE_MARK}{event.seq}", "")
    if isinstance(event, EditEvent):
        return (f"class:{MESSAGE_MARK}{event.of}", "")
    return None


def _file_line(
    line: Line, event: FileEvent | PrivateFileEvent, me: str | None, compact: bool
) -> Line:
    """``alice sent report.pdf (1.2 MiB), file 7``: the id is what ``file get`` takes
    (and the GUI's link reads, in the mark without text that ends the line)."""
    if isinstance(event, FileEvent):
        if not compact:
            line += _room(event.room)
        line += [(nick_style(event.sender), event.sender), ("class:file", " sent ")]
    else:
        outgoing = me is not None and event.sender.lower() == me.lower()
        peer = event.to if outgoing else event.sender
        label = "[file to " if outgoing else "[file from "
        line += [("class:pm", label), (nick_style(peer), peer), ("class:pm", "]"), ("", " ")]
    return [
        *line,
        ("class:file.name", safe_text(event.name)),
        ("class:file", f" ({file_size(event.size)}), file {event.id}"),
        (f"class:{FILE_MARK}{event.id}", ""),
    ]


# What each moderation action reads as, after the operator's name.
_DONE: Final = {
    "op": "made {user} an operator",
    "deop": "took operator from {user}",
    "kick": "kicked {user}",
    "ban": "banned {user}",
    "unban": "unbanned {user}",
    "lock": "locked the topic: only operators may set it",
    "unlock": "unlocked the topic",
}


def room_change(event: TopicEvent | ModerationEvent) -> Line:
    """A topic set or a moderation action, after the time: ``alice set the topic:
    …``, ``alice banned bob for 1h (spam)``."""
    who: Line = [(nick_style(event.sender), event.sender), ("", " ")]
    if isinstance(event, TopicEvent):
        if not event.text:
            return [*who, ("class:topic", "cleared the topic")]
        return [
            *who,
            ("class:topic", "set the topic: "),
            ("class:topic.text", safe_text(event.text)),
        ]
    done = _DONE.get(event.action, event.action + " {user}").format(user=event.user or "")
    if event.action == "ban" and event.until is not None:
        done += f" for {duration_text(event.until - event.ts)}"
    if event.reason:
        done += f" ({safe_text(event.reason)})"
    return [*who, ("class:moderation", done.rstrip())]


def _room(room: str) -> Line:
    return [("class:room", f"#{room}"), ("", " ")]


def _said(
    prefix: Line,
    event: ChatEvent | PmEvent,
    *,
    text_style: str,
    multiline: bool,
    me: str | None = None,
) -> Line:
    """``<alice> text`` or, for an emote, ``* alice waves``, after ``prefix``; a data
    map after it. ``me``: the name to pick out in the text, where it names them."""
    sender, data = event.sender, event.data
    if data is not None and data.get("emote") is True:  # see is_emote
        head: Line = [("class:emote", "* "), (nick_style(sender), sender), ("", " ")]
        text_style = "class:emote"
        extra = {k: v for k, v in data.items() if k not in EMOTE_DATA}
    else:
        head = [("class:nick", "<"), (nick_style(sender), sender), ("class:nick", ">")]
        head.append(("", " "))
        extra = dict(data or {})
    if isinstance(event, ChatEvent) and event.deleted:
        return prefix + head + [("class:edit", "(message deleted)")]
    lines = _text_lines(event.text, text_style, multiline)
    if me is not None:
        lines = [mark_mentions(part, me) for part in lines]
    line = hang(prefix + head, lines)
    if extra:
        line += [("", " "), ("class:data", safe_text(to_json(extra)))]
    if isinstance(event, ChatEvent) and event.edited is not None:
        line.append(("class:edit", " (edited)"))
    return line


def _changed(
    prefix: Line, event: EditEvent | DeleteEvent, multiline: bool, sent: float | None
) -> Line:
    """``✎ alice edited message 12 of 10:31:05: new text``, ``✗ alice deleted message
    12 of 10:31:05``: a line-by-line display can't change the line it printed, so it
    says what changed, naming the message by the time it was sent when that is known
    (``sent``), as its line shows it."""
    who = (nick_style(event.sender), event.sender)
    of = f"message {event.of}" + ("" if sent is None else f" of {format_time(sent, event.ts)}")
    if isinstance(event, DeleteEvent):
        return [*prefix, ("class:edit", "✗ "), who, ("class:edit", f" deleted {of}")]
    head = [*prefix, ("class:edit", "✎ "), who, ("class:edit", f" edited {of}: ")]
    return hang(head, _text_lines(event.text, "class:text", multiline))


def _text_lines(text: str, style: str, multiline: bool) -> list[Line]:
    """A message's text as lines of one fragment each: one line, or (``multiline``)
    one per line it was sent with."""
    lines = message_lines(text) if multiline else [text]
    return [[(style, safe_text(part))] for part in lines]


def status_text(event: StatusEvent) -> str | None:
    """A lost or regained connection in words (None for other changes): the chat
    windows' notice and the script commands' line on stderr."""
    # Which broker node: with several, a failover shows where the client went.
    node = f" {event.endpoint.removeprefix('tcp://')}" if event.endpoint else ""
    if event.state == "reconnecting":
        why = f" ({event.reason})" if event.reason not in (None, "connection lost") else ""
        return f"connection lost{' with' + node if node else ''}{why}; reconnecting…"
    if event.state == "connected":
        how = "session resumed" if event.resumed else "new session, rooms joined again"
        return f"reconnected ({how}){' to' + node if node else ''}"
    return None


def format_status(event: StatusEvent) -> Line:
    """A change of the connection, as a notice."""
    text = status_text(event)
    if text is not None:
        return notice(text)
    if event.state == "closed":
        return error(f"disconnected: {event.reason or 'closed'}")
    return notice(event.state)


def notice(text: str) -> Line:
    """Something the client itself says (joins, listings, connection changes)."""
    return [("class:notice", f"*** {text}")]


def error(text: str, code: str | None = None) -> Line:
    """A refusal or failure, readable: ``!!! you are not in room dev (not_in_room)``."""
    suffix = f" ({code})" if code else ""
    return [("class:error", f"!!! {safe_text(text)}{suffix}")]


def banner(text: str) -> Line:
    """A separator line, e.g. around a block of history."""
    return [("class:history.banner", f"─── {text} ───")]


def to_json(value: Any) -> str:
    """Compact JSON with non-ASCII kept as is (jq and terminals read UTF-8). msgpack
    can carry bytes, which JSON cannot: they become base64 strings."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def event_json(event: Record) -> str:
    """Every field of an event, as its wire map, as one JSON line (for ``--json``)."""
    return json.dumps(
        event.to_wire(), ensure_ascii=False, separators=(",", ":"), default=_json_default
    )


__all__ = [
    "EMOTE_DATA",
    "FILE_MARK",
    "MESSAGE_MARK",
    "NICK_COLOURS",
    "Fragment",
    "Line",
    "banner",
    "error",
    "event_json",
    "file_size",
    "format_event",
    "format_status",
    "is_emote",
    "message_mark",
    "nick_style",
    "notice",
    "plain",
    "room_change",
    "safe_text",
    "to_json",
]
