"""``zmqchat chat``: the interactive console client.

A prompt_toolkit shell around :class:`~zmqchat.client.chat.controller.ChatController`:
it reads lines at a prompt, parses them (:mod:`zmqchat.client.chat.commands`), hands
them to the controller on a worker thread (requests block; the prompt must not),
and prints the lines the controller emits above the input line.

Printing: lines may be emitted on any thread, but prompt_toolkit finds the running
prompt through a context variable, so a print from another thread would draw over
the input line. Every line therefore goes through a queue to a task on the event
loop, which prints them in batches above the prompt.

Input: Enter sends; Esc Enter (or Meta-Enter) starts a new line of the same
message, and a paste keeps its lines (bracketed paste), so a message of several
lines goes out as one and shows with its lines under the sender's name. A line
that names the user is highlighted (:mod:`~zmqchat.client.chat.mentions`), and
the terminal bell rings once per burst of them (``notify`` turns it off).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import print_formatted_text

from zmqchat.client.chat.alerts import Burst
from zmqchat.client.chat.commands import Quit, parse_input, suggested_name
from zmqchat.client.chat.completion import completion_suffix, completions
from zmqchat.client.chat.controller import ChatController
from zmqchat.client.chat.failures import ExitCode, ScriptError, classify
from zmqchat.client.chat.formatting import Line, error, notice
from zmqchat.client.chat.keys import CONSOLE_KEYS
from zmqchat.client.chat.passwords import configured_password
from zmqchat.client.chat.state import ChatState
from zmqchat.client.console.arguments import room_arg
from zmqchat.client.console.exits import signal_status, stop_signals
from zmqchat.client.console.theme import STYLE
from zmqchat.client.core.events import Event
from zmqchat.client.io.sync import Client
from zmqchat.client.io.trust import trust_options
from zmqchat.common.config import ClientConfig
from zmqchat.common.messages import Welcome
from zmqchat.common.threads import block_stop_signals
from zmqchat.errors import ZmqchatError
from zmqchat.logs import setup_logging

# How long /quit waits for commands still running (e.g. a send while reconnecting).
QUIT_WAIT: Final = 5.0


class ChatCompleter(Completer):
    """Tab: commands, room names and user names, from the controller's state."""

    def __init__(self, controller: ChatController) -> None:
        self._controller = controller

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        rooms, users = self._controller.completion_words()
        before = document.text_before_cursor
        word, candidates = completions(before, rooms=rooms, users=users)
        # As in the GUI: `bob: ` for a name that starts the line, else a space.
        suffix = completion_suffix(before, word)
        for candidate in candidates:
            yield Completion(candidate + suffix, start_position=-len(word), display=candidate)


def input_keys() -> KeyBindings:
    """Enter sends the message; Esc Enter (Meta-Enter) starts a new line of it. The
    prompt is multi-line (a paste keeps its lines), where Enter would otherwise be
    the new line and Esc Enter the send."""
    keys = KeyBindings()

    @keys.add("enter")
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @keys.add("escape", "enter")
    def _new_line(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return keys


def _continuation(width: int, line_number: int, wrap_count: int) -> str:
    return " " * width  # the message's further lines start under its first


class ChatConsole:
    """One interactive session: ask a name (and a password, when the broker wants
    one), connect, then read commands until /quit, Ctrl-D or Ctrl-C."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        user: str | None = None,
        rooms: Sequence[str] | None = None,
        password: str | None = None,
        patch: bool = True,
        on_line: Callable[[Line], None] | None = None,
    ) -> None:
        """``password``: the one given without asking (see
        :func:`~zmqchat.client.chat.passwords.configured_password`); ``patch``:
        redirect stdout/stderr above the prompt (off in tests that run the console
        in a thread); ``on_line``: also hand every shown line to this."""
        self.config = config
        self.user = user or config.user
        self.password = password
        self.rooms = tuple(rooms or config.rooms)
        self.state = ChatState()
        self.controller = ChatController(
            self.state,
            self._emit,
            on_closed=self._on_closed,
            multiline=True,
            keys=CONSOLE_KEYS,
            on_mention=self._mentioned,
        )
        self._bell = Burst()
        self._patch = patch
        self._on_line = on_line
        self._worker = concurrent.futures.ThreadPoolExecutor(
            1, "zmqchat-console", initializer=block_stop_signals
        )
        self._last: concurrent.futures.Future[object] | None = None
        self._closed = False
        self._signalled: int | None = None  # SIGTERM or SIGHUP came: leave
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lines: asyncio.Queue[Line | None] = asyncio.Queue()
        self._asking: PromptSession[str] | None = None  # the password prompt, while up
        self.session: PromptSession[str] = PromptSession(
            style=STYLE,
            completer=ChatCompleter(self.controller),
            complete_while_typing=False,
            bottom_toolbar=self._toolbar,
            history=InMemoryHistory(),
            multiline=True,
            key_bindings=input_keys(),
            prompt_continuation=_continuation,
            # As in IRC clients, a line sent leaves the screen: it comes back as the
            # room's event (or the command's answer), in its place among the others.
            erase_when_done=True,
        )

    async def run(self) -> int:
        """The whole session; returns the exit status."""
        self._loop = loop = asyncio.get_running_loop()
        caught = self._catch_signals(loop)
        try:
            with patch_stdout(raw=True) if self._patch else contextlib.nullcontext():
                if self._patch:
                    # Log lines must go above the prompt too: point logging at the proxy.
                    setup_logging(self.config.log_level)
                printer = asyncio.create_task(self._printer())
                try:
                    code = await self._session()
                finally:
                    self._lines.put_nowait(None)
                    await printer
                    self._worker.shutdown(wait=False, cancel_futures=True)
        finally:
            for signum in caught:
                loop.remove_signal_handler(signum)
            if self._patch:  # back to the real stderr
                setup_logging(self.config.log_level)
        return code if self._signalled is None else signal_status(self._signalled)

    def _catch_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        """Make SIGTERM and SIGHUP (the terminal closed) leave as /quit does, with
        a bye, instead of killing the process and leaving the name taken until the
        broker times the session out. Returns the signals it handles."""
        caught: list[int] = []
        for signum in stop_signals():
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):
                break  # not the main thread (tests), or no signals on this platform
            caught.append(signum)
        return caught

    def _on_signal(self, signum: int) -> None:
        if self._signalled is None:
            self._signalled = signum
            self._stop_prompt()

    async def _session(self) -> int:
        try:
            # Checked here: the broker would refuse the register with invalid_name,
            # which would read as a bad user name and ask for another one forever.
            self.rooms = tuple(room_arg(r) for r in self.rooms)
        except ScriptError as exc:
            self._emit(error(exc.message))
            return exc.code
        connected = await self._connect()
        if isinstance(connected, int):
            return connected
        client, welcome = connected
        self._submit(lambda: self.controller.attach(client, welcome))
        code = await self._read_commands()
        self._emit(notice("bye"))
        if self._last is not None:
            await asyncio.to_thread(concurrent.futures.wait, [self._last], QUIT_WAIT)
        self.controller.quitting()
        await asyncio.to_thread(client.close, 1.0)
        return code

    async def _connect(self) -> tuple[Client, Welcome] | int:
        """Register, asking for a name until the broker takes one, and for a password
        while it refuses the one given (an empty answer gives up)."""
        name = self.user
        password = self.password
        while True:
            if not name:
                # The login name is offered, not typed in: Enter takes it, and what
                # is typed replaces it (a pre-filled field turned "bob" into "rootbob").
                default = suggested_name()
                question = f"your name [{default}]: " if default else "your name: "
                try:
                    answer = await self.session.prompt_async(
                        [("class:prompt", question)], pre_run=self._stop_if_leaving
                    )
                except (EOFError, KeyboardInterrupt, OSError):  # OSError: see below
                    return ExitCode.OK
                name = answer.strip() or default
                continue
            self.controller.prepare(name, self.rooms)
            try:  # a changed server key is refused as the client is made
                client = Client(
                    name,
                    self.config.broker_endpoints,
                    rooms=self.rooms,
                    password=password,
                    client_name="zmqchat chat",
                    **trust_options(self.config),
                    connect_timeout=self.config.connect_timeout,
                    on_event=self.controller.on_event,
                )
                welcome = await asyncio.to_thread(client.connect)
            except ZmqchatError as exc:
                self.controller.prepare("", ())  # the name was not taken up
                endpoint, wait = self.config.where, self.config.connect_timeout
                failure = classify(exc, endpoint=endpoint, connect_timeout=wait)
                if failure.field == "password" and password is None:
                    # Not an error: the first try goes without a password, and a
                    # name with an account is then asked for one.
                    self._emit(notice(failure.message))
                else:
                    self._emit(error(failure.message, failure.code))
                if failure.field == "user":  # a name refused: ask for another
                    name = None
                    continue
                if failure.field == "password":
                    password = await self._ask_password(name)
                    if password:
                        continue
                return failure.exit_status
            self._emit(notice(f"connected to {client.endpoint} as {welcome.user}"))
            return client, welcome

    async def _ask_password(self, name: str) -> str | None:
        """The password of ``name``, typed unseen; None if the user gives up."""
        # A session of its own: the chat's would keep the password in its history,
        # for the Up key to bring back.
        self._asking = PromptSession(style=STYLE, erase_when_done=True)
        try:
            answer = await self._asking.prompt_async(
                [("class:prompt", f"password for {name} (empty to give up): ")],
                is_password=True,
                pre_run=self._stop_if_leaving,
            )
        except (EOFError, KeyboardInterrupt, OSError):
            return None
        finally:
            self._asking = None
        return answer or None

    async def _read_commands(self) -> int:
        while not self._closed and self._signalled is None:
            try:
                text = await self.session.prompt_async(self._prompt, pre_run=self._stop_if_leaving)
            except KeyboardInterrupt:
                return ExitCode.OK  # Ctrl-C leaves, as /quit does
            except EOFError:  # Ctrl-D, the broker closed the session, or a signal
                break
            except OSError:
                # The terminal was closed (EIO on redrawing the prompt): leave, saying
                # bye, rather than die with the name taken until the broker's timeout.
                break
            command = parse_input(text.rstrip("\r\n"))  # a paste's last line break
            if isinstance(command, Quit):
                return ExitCode.OK
            if command is not None:
                self._submit(functools.partial(self.controller.execute, command))
        return ExitCode.REFUSED if self._closed else ExitCode.OK

    def _toolbar(self) -> FormattedText:
        return FormattedText(self.controller.toolbar())

    def _prompt(self) -> FormattedText:
        where = self.controller.state.viewing()  # a str read: no lock needed
        return FormattedText([("class:prompt", f"{where}> " if where else "(no room)> ")])

    def _submit(self, action: Callable[[], object]) -> None:
        # One worker thread: commands run in the order typed.
        self._last = self._worker.submit(action)

    # ----------------------------------------------------------------- output

    def _emit(self, line: Line, where: str | None = None) -> None:
        """Show a line (from any thread). One stream for every conversation: each
        line says where it is from (``#room``, ``[pm from bob]``), so ``where`` is
        not needed here."""
        if self._on_line is not None:
            self._on_line(line)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nothing to show on
                loop.call_soon_threadsafe(self._lines.put_nowait, line)

    async def _printer(self) -> None:
        terminal_gone = False
        while True:
            batch = [await self._lines.get()]
            while not self._lines.empty():
                batch.append(self._lines.get_nowait())
            fragments: list[tuple[str, str]] = []
            for line in batch:
                if line is not None:
                    fragments += [*line, ("", "\n")]
            if fragments and not terminal_gone:
                # Above the prompt when one is running (print_formatted_text uses
                # run_in_terminal then), plainly otherwise.
                try:
                    print_formatted_text(FormattedText(fragments), style=STYLE, end="")
                except OSError:
                    # The terminal was closed (EIO; SIGHUP makes the session leave):
                    # drop what can no longer be shown rather than fail the exit.
                    terminal_gone = True
            if None in batch:
                return

    def _mentioned(self, event: Event, where: str) -> None:
        """A line for the user's attention (on the client's event thread): the
        bell, once per burst."""
        loop = self._loop
        if self.config.notify and loop is not None and self._bell.ready():
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(self._ring)

    def _ring(self) -> None:
        with contextlib.suppress(OSError):  # the terminal was closed
            self.session.output.bell()

    def _on_closed(self) -> None:
        """The broker ended the session for good (e.g. replaced): stop prompting."""
        self._closed = True
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_prompt)

    def _stop_prompt(self) -> None:
        app = (self._asking or self.session).app
        # Not when a line was entered just now: exit() would raise.
        if app.is_running and app.future is not None and not app.future.done():
            app.exit(exception=EOFError())

    def _stop_if_leaving(self) -> None:
        """Run as each prompt starts: a signal or a close that came while no prompt
        was running (so _stop_prompt had nothing to stop) ends this one at once."""
        if self._closed or self._signalled is not None:
            self._stop_prompt()


def run_chat(config: ClientConfig, *, user: str | None, rooms: Sequence[str] | None) -> int:
    """Run the console until the user leaves; the exit status."""
    try:
        password = configured_password(config)
        return asyncio.run(ChatConsole(config, user=user, rooms=rooms, password=password).run())
    except KeyboardInterrupt:  # Ctrl-C while not at the prompt (e.g. connecting)
        return ExitCode.INTERRUPTED


__all__ = ["STYLE", "ChatCompleter", "ChatConsole", "input_keys", "run_chat", "suggested_name"]
