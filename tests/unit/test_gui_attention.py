"""The window's attention without a window: the title's mark for mentions missed
while it had no focus, desktop notifications once per burst (with a real
`notify-send` stand-in), and the sidebar's badges."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from zmqchat.client.chat.alerts import Burst
from zmqchat.client.gui.attention import Attention, badge
from zmqchat.client.gui.desktop import DesktopNotifier
from zmqchat.common.config import ClientConfig, load_config
from zmqchat.common.messages import ChatEvent, PmEvent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chat(text: str) -> ChatEvent:
    return ChatEvent(room="general", seq=3, sender="bob", text=text, ts=1.0)


def test_the_title_marks_mentions_missed_while_unfocused_until_focused_again():
    clock = Clock()
    attention = Attention(notify=True, burst=Burst(5.0, clock))
    assert attention.mentioned(chat("alice")) is None  # focused: the line shows it
    assert attention.title("#general — zmqchat") == "#general — zmqchat"
    assert not attention.focus(False)  # nothing to unmark
    assert attention.mentioned(chat("alice?")) == ("bob in #general", "alice?")
    pm = PmEvent(id=1, sender="bob", to="alice", text="psst", ts=1.0)
    assert attention.mentioned(pm) is None  # the same burst: no second notification
    assert attention.title("#general — zmqchat") == "(@2) #general — zmqchat"
    clock.now += 5.0
    assert attention.mentioned(pm) == ("bob (private message)", "psst")  # a new burst
    assert attention.focus(True)  # the mark goes
    assert attention.title("x") == "x"
    assert not attention.focus(True)


def test_no_notification_when_turned_off_but_the_title_still_marks():
    attention = Attention(notify=False)
    attention.focus(False)
    assert attention.mentioned(chat("alice")) is None
    assert attention.title("t") == "(@1) t"


def test_the_notify_setting_turns_alerts_off(tmp_path):
    assert load_config(ClientConfig, env={}).notify
    assert not load_config(ClientConfig, env={"ZMQCHAT_NOTIFY": "false"}).notify
    toml = tmp_path / "client.toml"
    toml.write_text("notify = false\n")
    assert not load_config(ClientConfig, file=toml, env={}).notify


def test_badges():
    assert badge(0, 0) == ""
    assert badge(5, 0) == "  (5)"
    assert badge(5, 2) == "  (5) @2"


def fake_notify_send(folder: Path) -> tuple[Path, Path]:
    """A `notify-send` that writes the arguments it was given, one per line."""
    log = folder / "notified"
    program = folder / "notify-send"
    program.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program, log


def test_a_notification_passes_the_text_as_arguments_never_as_options_or_markup(tmp_path):
    program, log = fake_notify_send(tmp_path)
    notify = DesktopNotifier(str(program))
    assert notify.available
    thread = notify("bob in #general", "--help <b>me</b> & you")
    assert thread is not None
    thread.join(10)
    assert log.read_text().splitlines() == [
        "--app-name=zmqchat",
        "--category=im.received",
        "--",
        "bob in #general",
        "--help &lt;b&gt;me&lt;/b&gt; &amp; you",
    ]


def test_without_notify_send_nothing_happens_and_nothing_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no notify-send
    notify = DesktopNotifier()
    assert not notify.available
    assert notify("bob in #general", "hi") is None
    # One found on PATH is used.
    fake_notify_send(tmp_path)
    assert DesktopNotifier().program == os.path.join(tmp_path, "notify-send")


def test_a_notify_send_that_fails_is_no_error(tmp_path):
    program = tmp_path / "notify-send"
    program.write_text("#!/bin/sh\necho no bus >&2\nexit 1\n")
    program.chmod(0o700)
    thread = DesktopNotifier(str(program))("s", "b")
    assert thread is not None
    thread.join(10)
    assert not thread.is_alive()
    gone = DesktopNotifier(str(tmp_path / "removed-since"))("s", "b")  # OSError: logged
    assert gone is not None
    gone.join(10)
