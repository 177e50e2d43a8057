"""What a client hands to the program using it: room events, private messages,
broker notices, and changes of its own connection state."""

from __future__ import annotations

import dataclasses
from typing import Literal

from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent, SystemEvent
from zmqchat.errors import BrokerError

ConnectionState = Literal["connecting", "connected", "reconnecting", "closed"]


@dataclasses.dataclass(frozen=True, slots=True)
class StatusEvent:
    """The client's connection changed state.

    ``resumed`` is True when a reconnection took over the same session (no rejoin);
    ``reason`` says why it reconnected or closed; ``error`` is the broker's refusal
    when it closed because registering again failed.
    """

    state: ConnectionState
    reason: str | None = None
    resumed: bool = False
    error: BrokerError | None = None


Event = ChatEvent | PresenceEvent | PmEvent | SystemEvent | StatusEvent

__all__ = [
    "ChatEvent",
    "ConnectionState",
    "Event",
    "PmEvent",
    "PresenceEvent",
    "StatusEvent",
    "SystemEvent",
]
