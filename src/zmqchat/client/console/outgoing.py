"""What ``zmqchat send`` sends: the words of TEXT as one message, each non-blank
line of stdin as a message of its own, or (``--whole``) all of stdin as one
message with its line breaks, as ``mosquitto_pub -s`` does."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Final, TextIO

from zmqchat.client.chat.failures import ExitCode, ScriptError, classify
from zmqchat.common.protocol import MAX_TEXT_BYTES, ErrorCode, check_text
from zmqchat.errors import ProtocolError

# `send --whole` reads at most this much of stdin: past it, the message is too long
# whatever it holds (a character is at least one byte), and a huge pipe is not
# read into memory only to be refused.
WHOLE_READ_CHARS: Final = 4 * MAX_TEXT_BYTES


def messages_to_send(
    texts: Sequence[str], stdin: TextIO, *, whole: bool = False
) -> Iterator[tuple[str, str]]:
    """``(label, text)`` for each message: the words of TEXT as one message, or each
    non-blank line of stdin (with ``-``, or no TEXT and stdin not a terminal), or
    with ``whole`` all of stdin as one message (:func:`whole_message`)."""
    if texts and list(texts) != ["-"]:
        yield "the message", " ".join(texts)
        return
    if not texts and stdin.isatty():
        raise ScriptError(
            ExitCode.USAGE, "nothing to send: give TEXT, or pipe lines on stdin (or use -)"
        )
    if isinstance(stdin, io.TextIOWrapper):
        stdin.reconfigure(errors="replace")  # a stray byte must not kill the batch
    if whole:
        text = whole_message(stdin)
        if text is not None:
            yield "stdin", text
        return
    for number, raw in enumerate(stdin, 1):
        text = raw.rstrip("\r\n")
        if text.strip():
            yield f"line {number}", text


def whole_message(stdin: TextIO) -> str | None:
    """All of ``stdin`` as one message, its line breaks kept but for those at the
    end; None when it is blank. Over the size limit, it is refused here, before
    connecting: nothing is sent, nothing cut."""
    text = stdin.read(WHOLE_READ_CHARS)
    over = bool(stdin.read(1))
    text = text.rstrip("\r\n")
    if not over and (not text or text.isspace()):
        return None
    try:
        if over:
            raise ProtocolError(
                ErrorCode.TOO_LONG,
                f"text is over {WHOLE_READ_CHARS} characters; the limit is "
                f"{MAX_TEXT_BYTES} UTF-8 bytes",
            )
        check_text(text)
    except ProtocolError as exc:
        raise ScriptError(
            ExitCode.REFUSED, f"stdin refused: {classify(exc).report}; nothing was sent"
        ) from None
    return text


__all__ = ["WHOLE_READ_CHARS", "messages_to_send", "whole_message"]
