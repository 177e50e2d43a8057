"""zmqchat: a brokered chat and messaging system on ZeroMQ.

``Client`` is the synchronous client library; the records it returns and the events
it delivers are defined once in :mod:`zmqchat.common.messages`; every exception
derives from :class:`ZmqchatError` (see :mod:`zmqchat.errors`).
"""

from __future__ import annotations

__version__ = "0.1.0"

from zmqchat.client.api import Client
from zmqchat.client.events import Event, StatusEvent
from zmqchat.common.messages import (
    ChatAck,
    ChatEvent,
    HistoryPage,
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
from zmqchat.errors import (
    BrokerError,
    ConfigError,
    ConnectionClosed,
    DecodeError,
    ProtocolError,
    Timeout,
    ZmqchatError,
)

__all__ = [
    "BrokerError",
    "ChatAck",
    "ChatEvent",
    "Client",
    "ConfigError",
    "ConnectionClosed",
    "DecodeError",
    "Event",
    "HistoryPage",
    "Joined",
    "Left",
    "PmAck",
    "PmEvent",
    "Pong",
    "PresenceEvent",
    "ProtocolError",
    "RoomInfo",
    "StatusEvent",
    "SystemEvent",
    "Timeout",
    "Welcome",
    "ZmqchatError",
    "__version__",
]
