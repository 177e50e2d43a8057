"""zmqchat: a brokered chat and messaging system on ZeroMQ.

``Client`` is the synchronous client library (``zmqchat.aio.AsyncClient`` its asyncio
face); the records it returns and the events it delivers are defined once in
:mod:`zmqchat.common.messages`; every exception derives from :class:`ZmqchatError` (see
:mod:`zmqchat.errors`).

The names below are loaded on first use: importing any ``zmqchat.*`` module runs this
file first, and ``zmqchat --help`` or the broker should not pay for zmq and the client
library they never touch.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from zmqchat._version import __version__
from zmqchat.errors import (
    BrokerError,
    Cancelled,
    ConfigError,
    ConnectionClosed,
    DecodeError,
    ProtocolError,
    ServerKeyChanged,
    Timeout,
    ZmqchatError,
)

if _typing.TYPE_CHECKING:
    from zmqchat.client.core.events import Event, StatusEvent
    from zmqchat.client.io.sync import Client
    from zmqchat.client.io.trust import default_known_brokers
    from zmqchat.common.messages import (
        ChatAck,
        ChatEvent,
        DeleteEvent,
        EditEvent,
        HistoryPage,
        Invited,
        Joined,
        Left,
        PmAck,
        PmEvent,
        Pong,
        PresenceEvent,
        RoomInfo,
        SystemEvent,
        Welcome,
    )
    from zmqchat.common.moderation import Moderated, ModerationEvent, TopicEvent, TopicInfo

# The lazily loaded names, by the module that defines them.
_LAZY_FROM: dict[str, str] = {
    "zmqchat.client.io.sync": "Client",
    "zmqchat.client.io.trust": "default_known_brokers",
    "zmqchat.client.core.events": "Event StatusEvent",
    "zmqchat.common.messages": "ChatAck ChatEvent DeleteEvent EditEvent HistoryPage Invited"
    " Joined Left PmAck PmEvent Pong PresenceEvent RoomInfo SystemEvent Welcome",
    "zmqchat.common.moderation": "Moderated ModerationEvent TopicEvent TopicInfo",
}
_LAZY: dict[str, str] = {
    name: module for module, names in _LAZY_FROM.items() for name in names.split()
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zmqchat' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BrokerError",
    "Cancelled",
    "ChatAck",
    "ChatEvent",
    "Client",
    "ConfigError",
    "ConnectionClosed",
    "DecodeError",
    "DeleteEvent",
    "EditEvent",
    "Event",
    "HistoryPage",
    "Invited",
    "Joined",
    "Left",
    "Moderated",
    "ModerationEvent",
    "PmAck",
    "PmEvent",
    "Pong",
    "PresenceEvent",
    "ProtocolError",
    "RoomInfo",
    "ServerKeyChanged",
    "StatusEvent",
    "SystemEvent",
    "Timeout",
    "TopicEvent",
    "TopicInfo",
    "Welcome",
    "ZmqchatError",
    "__version__",
    "default_known_brokers",
]
