"""zmqchat.bot without a broker: which handler calls an event makes, and the checks
made when handlers are registered."""

from __future__ import annotations

import re
from typing import Any

import pytest

from zmqchat import ChatEvent, PmEvent, PresenceEvent, StatusEvent, SystemEvent
from zmqchat.bot import Bot, Context


def chat(text: str, room: str = "general", seq: int = 10, sender: str = "alice") -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender=sender, text=text, ts=1.0)


def pm(text: str, sender: str = "alice") -> PmEvent:
    return PmEvent(id=1, sender=sender, to="bot", text=text, ts=1.0)


def presence(user: str, event: str = "join", room: str = "general", seq: int = 10) -> Any:
    return PresenceEvent(room=room, seq=seq, user=user, event=event, ts=1.0)


def calls(bot: Bot, event: Any) -> list[tuple[str, Context]]:
    """(handler name, context) of each call ``event`` makes."""
    return [(handler.__name__, ctx) for handler, ctx in bot._route(event)]


def names(bot: Bot, event: Any) -> list[str]:
    return [name for name, _ in calls(bot, event)]


@pytest.fixture
def bot() -> Bot:
    bot = Bot("Bot", rooms=["general"])

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        """answer pong

        More text that !help does not show."""

    @bot.command("deploy", room="ops", pm=False, help="deploy the thing")
    async def deploy(ctx: Context) -> None: ...

    @bot.on_message(room=["general", "Dev"], pattern=r"(\d+) \+ (\d+)")
    async def add(ctx: Context) -> None: ...

    @bot.on_message()
    async def anything(ctx: Context) -> None: ...

    @bot.on_pm(pattern=re.compile("secret", re.IGNORECASE))
    async def secret(ctx: Context) -> None: ...

    @bot.on_presence(event="join")
    async def joined(ctx: Context) -> None: ...

    @bot.on_presence(room="ops")
    async def ops_presence(ctx: Context) -> None: ...

    return bot


def test_rooms_named_by_handlers_are_joined(bot: Bot) -> None:
    assert bot.rooms == ("general", "ops", "dev")  # in the order named


def test_a_command_with_its_arguments(bot: Bot) -> None:
    [(_, tabbed)] = [c for c in calls(bot, chat("!ping\tx\ny")) if c[0] == "ping"]
    assert (tabbed.args, tabbed.rest) == (("x", "y"), "x\ny")
    [(_, ctx)] = [c for c in calls(bot, chat(" !PING  a b  c ")) if c[0] == "ping"]
    assert (ctx.command, ctx.args, ctx.rest) == ("ping", ("a", "b", "c"), "a b  c")
    assert (ctx.room, ctx.sender, ctx.text, ctx.private) == (
        "general",
        "alice",
        " !PING  a b  c ",
        False,
    )
    assert ctx.match is None


def test_commands_need_the_prefix_and_one_word(bot: Bot) -> None:
    assert names(bot, chat("ping")) == ["anything"]
    assert names(bot, chat("! ping")) == ["anything"]
    assert names(bot, chat("!pingpong")) == ["anything"]
    assert names(bot, chat("!")) == ["anything"]
    assert names(bot, chat("!nosuch")) == ["anything"]
    assert names(bot, chat("say !ping")) == ["anything"]


def test_a_command_for_one_room_and_not_in_private(bot: Bot) -> None:
    assert names(bot, chat("!deploy", room="general")) == ["anything"]
    assert names(bot, chat("!deploy", room="ops")) == ["deploy", "anything"]
    assert names(bot, pm("!deploy")) == []
    assert names(bot, pm("!ping")) == ["ping"]


def test_patterns_and_rooms_of_message_handlers(bot: Bot) -> None:
    [(_, ctx), _] = calls(bot, chat("is 2 + 3 five?", room="dev"))
    assert ctx.match is not None
    assert ctx.match.groups() == ("2", "3")
    assert names(bot, chat("2 + 3", room="ops")) == ["anything"]
    assert names(bot, pm("a SECRET")) == ["secret"]
    [(_, private)] = calls(bot, pm("a SECRET"))
    assert (private.room, private.private, private.match is not None) == (None, True, True)


def test_presence_by_room_and_kind(bot: Bot) -> None:
    assert names(bot, presence("carol")) == ["joined"]
    assert names(bot, presence("carol", "leave")) == []
    assert names(bot, presence("carol", "leave", room="ops")) == ["ops_presence"]
    [(_, ctx), _] = calls(bot, presence("carol", room="ops"))
    assert (ctx.sender, ctx.text, ctx.data, ctx.room) == ("carol", "", None, "ops")


def test_the_bots_own_events_are_ignored_whatever_the_case(bot: Bot) -> None:
    assert names(bot, chat("!ping", sender="bot")) == []
    assert names(bot, pm("secret", sender="BOT")) == []
    assert names(bot, presence("bot")) == []


def test_events_from_before_the_join_are_history(bot: Bot) -> None:
    bot._heads = {"general": 10}
    assert names(bot, chat("!ping", seq=9)) == []
    assert names(bot, chat("!ping", seq=10)) == []
    assert names(bot, presence("carol", seq=10)) == []
    assert names(bot, chat("!ping", seq=11)) == ["ping", "anything"]
    assert names(bot, chat("!ping", room="dev", seq=1)) == ["ping", "anything"]


def test_help_lists_the_commands_of_the_place(bot: Bot) -> None:
    [(_, ctx)] = [c for c in calls(bot, chat("!help")) if c[0] == "_help"]
    assert ctx.command == "help"
    assert bot._commands["ping"].help == "answer pong"
    assert bot._commands["deploy"].help == "deploy the thing"
    assert names(Bot("quiet", help_command=False), chat("!help")) == []


def test_status_and_system_events_make_no_calls(bot: Bot) -> None:
    assert calls(bot, StatusEvent(state="reconnecting", reason="lost")) == []
    assert calls(bot, SystemEvent(text="shutting down", ts=1.0)) == []


def test_registration_checks() -> None:
    bot = Bot("bot")

    def not_async(ctx: Context) -> None: ...

    with pytest.raises(TypeError, match="async def"):
        bot.command("sync")(not_async)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async def"):
        bot.every(1)(not_async)  # type: ignore[arg-type]

    @bot.command("Ping")
    async def ping(ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="already registered"):
        bot.command("ping")
    with pytest.raises(ValueError, match="one word"):
        bot.command("two words")
    with pytest.raises(ValueError, match="join"):
        bot.on_presence(event="joined")
    with pytest.raises(ValueError, match="positive"):
        bot.every(0)
    with pytest.raises(ValueError, match="prefix"):
        Bot("bot", prefix="")
    with pytest.raises(ValueError, match="concurrency"):
        Bot("bot", concurrency=0)


def test_the_endpoint_defaults_like_the_commands(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no client.toml
    monkeypatch.delenv("ZMQCHAT_CONFIG", raising=False)
    monkeypatch.delenv("ZMQCHAT_HOST", raising=False)
    monkeypatch.delenv("ZMQCHAT_PORT", raising=False)
    assert Bot("bot").endpoint == "tcp://127.0.0.1:5555"
    monkeypatch.setenv("ZMQCHAT_PORT", "6000")
    assert Bot("bot").endpoint == "tcp://127.0.0.1:6000"
    assert Bot("bot", "tcp://10.0.0.5:5555").endpoint == "tcp://10.0.0.5:5555"


def test_the_decorators_return_the_function() -> None:
    bot = Bot("bot", "tcp://127.0.0.1:5555")

    async def handler(ctx: Context) -> None: ...

    async def job(bot: Bot) -> None: ...

    assert bot.command("x")(handler) is handler
    assert bot.on_message()(handler) is handler
    assert bot.on_pm()(handler) is handler
    assert bot.on_presence()(handler) is handler
    assert bot.every(5)(job) is job
    assert repr(bot) == "<Bot 'bot' stopped tcp://127.0.0.1:5555>"
