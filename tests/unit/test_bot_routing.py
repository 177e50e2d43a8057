"""zmqchat.bot without a broker: which handler calls an event makes (the bot's
``Router``), and the checks made when handlers are registered."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from zmqchat import ChatEvent, PmEvent, PresenceEvent, StatusEvent, SystemEvent
from zmqchat.bot import Bot, Context, Router
from zmqchat.bot.router import Call, Command


def chat(
    text: str, room: str = "general", seq: int = 10, sender: str = "alice", **data: Any
) -> ChatEvent:
    return ChatEvent(room=room, seq=seq, sender=sender, text=text, data=data or None, ts=1.0)


def pm(text: str, sender: str = "alice") -> PmEvent:
    return PmEvent(id=1, sender=sender, to="bot", text=text, ts=1.0)


def presence(user: str, event: str = "join", room: str = "general", seq: int = 10) -> Any:
    return PresenceEvent(room=room, seq=seq, user=user, event=event, ts=1.0)


def calls(bot: Bot, event: Any, heads: Mapping[str, int] | None = None) -> list[Call]:
    """The calls ``event`` makes to ``bot``'s handlers."""
    return bot.router.route(event, bot, me=bot.user, heads=heads or {})


def names(bot: Bot, event: Any, heads: Mapping[str, int] | None = None) -> list[str]:
    return [call.handler.__name__ for call in calls(bot, event, heads)]


def context_of(bot: Bot, event: Any, handler: str) -> Context:
    """The context of the one call ``event`` makes to ``handler``."""
    [ctx] = [c.context for c in calls(bot, event) if c.handler.__name__ == handler]
    return ctx


@pytest.fixture
def bot() -> Bot:
    bot = Bot("Bot", "tcp://127.0.0.1:5555", rooms=["general"])

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
    assert bot.router.rooms == ("ops", "dev", "general")  # in the order named
    assert bot.rooms == ("general", "ops", "dev")  # the bot's own first


def test_a_command_with_its_arguments(bot: Bot) -> None:
    tabbed = context_of(bot, chat("!ping\tx\ny"), "ping")
    assert (tabbed.args, tabbed.rest) == (("x", "y"), "x\ny")
    ctx = context_of(bot, chat(" !PING  a b  c ", answer=42), "ping")
    assert (ctx.command, ctx.args, ctx.rest) == ("ping", ("a", "b", "c"), "a b  c")
    assert (ctx.room, ctx.sender, ctx.text, ctx.data, ctx.private) == (
        "general",
        "alice",
        " !PING  a b  c ",
        {"answer": 42},
        False,
    )
    assert ctx.match is None
    assert ctx.bot is bot


def test_commands_need_the_prefix_and_one_word(bot: Bot) -> None:
    assert names(bot, chat("ping")) == ["anything"]
    assert names(bot, chat("! ping")) == ["anything"]
    assert names(bot, chat("!pingpong")) == ["anything"]
    assert names(bot, chat("!")) == ["anything"]
    assert names(bot, chat("!nosuch")) == ["anything"]
    assert names(bot, chat("say !ping")) == ["anything"]


def test_another_prefix() -> None:
    bot = Bot("bot", "tcp://127.0.0.1:5555", prefix="bot:")

    @bot.command("ping")
    async def ping(ctx: Context) -> None: ...

    assert bot.prefix == "bot:"
    assert names(bot, chat("bot:ping now")) == ["ping"]
    assert names(bot, chat("BOT:ping")) == []  # the prefix is matched as typed
    assert names(bot, chat("!ping")) == []
    assert bot.router.help_text("general") == "commands: bot:ping"


def test_a_command_for_one_room_and_not_in_private(bot: Bot) -> None:
    assert names(bot, chat("!deploy", room="general")) == ["anything"]
    assert names(bot, chat("!deploy", room="ops")) == ["deploy", "anything"]
    assert names(bot, pm("!deploy")) == []
    assert names(bot, pm("!ping")) == ["ping"]
    deploy = bot.router.commands["deploy"]
    assert (deploy.serves("ops"), deploy.serves("general"), deploy.serves(None)) == (
        True,
        False,
        False,
    )


def test_patterns_and_rooms_of_message_handlers(bot: Bot) -> None:
    [(_, ctx), _] = calls(bot, chat("is 2 + 3 five?", room="dev"))
    assert ctx.match is not None
    assert ctx.match.groups() == ("2", "3")
    assert names(bot, chat("2 + 3", room="ops")) == ["anything"]
    assert names(bot, pm("a SECRET")) == ["secret"]
    assert names(bot, pm("nothing to see")) == []
    [(_, private)] = calls(bot, pm("a SECRET"))
    assert (private.room, private.private, private.match is not None) == (None, True, True)


def test_a_pm_handler_without_a_pattern_takes_every_private_message() -> None:
    bot = Bot("bot", "tcp://127.0.0.1:5555")

    @bot.on_pm()
    async def private(ctx: Context) -> None: ...

    [(_, ctx)] = calls(bot, pm("!anything at all"))
    assert (ctx.private, ctx.match, ctx.command, ctx.sender) == (True, None, None, "alice")
    assert calls(bot, chat("in a room")) == []


def test_presence_by_room_and_kind(bot: Bot) -> None:
    assert names(bot, presence("carol")) == ["joined"]
    assert names(bot, presence("carol", "leave")) == []
    assert names(bot, presence("carol", "leave", room="ops")) == ["ops_presence"]
    [(_, ctx), _] = calls(bot, presence("carol", room="ops"))
    assert (ctx.sender, ctx.text, ctx.data, ctx.room, ctx.private) == (
        "carol",
        "",
        None,
        "ops",
        False,
    )


def test_the_bots_own_events_are_ignored_whatever_the_case(bot: Bot) -> None:
    assert names(bot, chat("!ping", sender="bot")) == []
    assert names(bot, pm("secret", sender="BOT")) == []
    assert names(bot, presence("bot")) == []
    # `me` is who the bot is: the router knows no name of its own.
    assert bot.router.route(chat("!ping", sender="Bot"), bot, me="other", heads={})


def test_events_from_before_the_join_are_history(bot: Bot) -> None:
    heads = {"general": 10}
    assert names(bot, chat("!ping", seq=9), heads) == []
    assert names(bot, chat("!ping", seq=10), heads) == []
    assert names(bot, presence("carol", seq=10), heads) == []
    assert names(bot, chat("!ping", seq=11), heads) == ["ping", "anything"]
    assert names(bot, presence("carol", seq=11), heads) == ["joined"]
    assert names(bot, chat("!ping", room="dev", seq=1), heads) == ["ping", "anything"]
    assert names(bot, pm("!ping"), heads) == ["ping"]  # private messages have no seq


def test_help_lists_the_commands_of_the_place(bot: Bot) -> None:
    [help_call, _] = calls(bot, chat("!HELP"))
    assert help_call.handler == bot.router.answer_help
    assert help_call.context.command == "help"
    assert names(bot, pm("!help")) == ["answer_help"]
    assert bot.router.commands["ping"].help == "answer pong"
    assert bot.router.commands["deploy"].help == "deploy the thing"
    assert bot.router.help_text("general") == "commands: !ping: answer pong"
    assert bot.router.help_text("ops") == (
        "commands: !deploy: deploy the thing; !ping: answer pong"
    )
    assert bot.router.help_text(None) == "commands: !ping: answer pong"


def test_help_is_off_without_commands_or_when_asked() -> None:
    quiet = Bot("quiet", "tcp://127.0.0.1:5555", help_command=False)

    @quiet.command("ping")
    async def ping(ctx: Context) -> None: ...

    assert not quiet.help_command
    assert names(quiet, chat("!help")) == []
    assert names(Bot("empty", "tcp://127.0.0.1:5555"), chat("!help")) == []


def test_a_help_command_of_ones_own_replaces_the_built_in() -> None:
    router = Router()

    @router.command("help")
    async def my_help(ctx: Context) -> None: ...

    @router.command("roomonly", pm=False)
    async def roomonly(ctx: Context) -> None: ...

    bot = Bot("bot", "tcp://127.0.0.1:5555")
    assert [c.handler for c in router.route(chat("!help"), bot, me="bot", heads={})] == [my_help]
    # Without a docstring a command is listed by name alone.
    assert router.help_text("general") == "commands: !help; !roomonly"
    assert Router().help_text(None) == "no commands here"


def test_a_router_on_its_own() -> None:
    router = Router(prefix="?")
    assert router.empty
    assert router.rooms == ()

    @router.on_presence(room=["B", "a"], event="leave")
    async def gone(ctx: Context) -> None: ...

    assert not router.empty
    assert router.rooms == ("a", "b")  # lower-cased, sorted within one handler
    bot = Bot("bot", "tcp://127.0.0.1:5555")
    [call] = router.route(presence("carol", "leave", room="a"), bot, me="bot", heads={})
    assert call == Call(gone, Context(bot, presence("carol", "leave", room="a")))
    assert router.route(presence("carol", "join", room="a"), bot, me="bot", heads={}) == []
    with pytest.raises(TypeError):
        router.commands["x"] = Command("x", gone, None, True, "")  # type: ignore[index]


def test_status_and_system_events_make_no_calls(bot: Bot) -> None:
    assert calls(bot, StatusEvent(state="reconnecting", reason="lost")) == []
    assert calls(bot, SystemEvent(text="shutting down", ts=1.0)) == []


def test_registration_checks() -> None:
    bot = Bot("bot", "tcp://127.0.0.1:5555")

    def not_async(ctx: Context) -> None: ...

    with pytest.raises(TypeError, match="async def"):
        bot.command("sync")(not_async)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async def"):
        bot.on_message()(not_async)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async def"):
        bot.every(1)(not_async)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async def"):
        bot.on_error(not_async)  # type: ignore[type-var]

    @bot.command("Ping")
    async def ping(ctx: Context) -> None: ...

    assert list(bot.router.commands) == ["ping"]
    with pytest.raises(ValueError, match="already registered"):
        bot.command("ping")
    with pytest.raises(ValueError, match="one word"):
        bot.command("two words")
    with pytest.raises(ValueError, match="one word"):
        bot.command("")
    with pytest.raises(ValueError, match="join"):
        bot.on_presence(event="joined")
    with pytest.raises(ValueError, match="positive"):
        bot.every(0)
    with pytest.raises(ValueError, match="prefix"):
        Bot("bot", prefix="")
    with pytest.raises(ValueError, match="prefix"):
        Router(prefix="! ")
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

    async def hook(ctx: Context, exc: Exception) -> None: ...

    assert bot.command("x")(handler) is handler
    assert bot.on_message()(handler) is handler
    assert bot.on_pm()(handler) is handler
    assert bot.on_presence()(handler) is handler
    assert bot.every(5)(job) is job
    assert bot.on_error(hook) is hook
    assert repr(bot) == "<Bot 'bot' stopped tcp://127.0.0.1:5555>"
