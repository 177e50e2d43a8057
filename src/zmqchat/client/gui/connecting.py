"""Connecting as the connect form asks: the client made with the window's
settings, registered, or why it could not be (:class:`ConnectFailed`, with the
form's field it is about). Blocks: the view-model runs it on its worker thread."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

from zmqchat.client.chat.failures import classify
from zmqchat.client.core.events import Event
from zmqchat.client.gui.connect_form import ConnectFailed, Settings
from zmqchat.client.io.sync import Client
from zmqchat.common.config import ClientConfig
from zmqchat.common.messages import Welcome
from zmqchat.errors import ZmqchatError

# A burst must not become an unbounded backlog of events inside the client.
CLIENT_EVENT_QUEUE: Final = 100_000


def connect_client(
    config: ClientConfig,
    settings: Settings,
    *,
    rooms: tuple[str, ...],
    known_brokers: str | os.PathLike[str],
    on_event: Callable[[Event], None],
) -> tuple[Client, Welcome] | ConnectFailed:
    """A connected client and its welcome, or why connecting failed."""
    # Every node the form (or the command line, through it) names: the client
    # moves between them as the console's does.
    endpoints = settings.endpoints
    try:
        client = Client(
            settings.user,
            endpoints,
            rooms=rooms,
            password=settings.password,
            client_name="zmqchat gui",
            connect_timeout=config.connect_timeout,
            max_events=CLIENT_EVENT_QUEUE,
            on_event=on_event,
            server_key=settings.server_key,
            client_key=config.client_key,
            known_brokers=known_brokers,
        )
        return client, client.connect()
    except ZmqchatError as exc:
        where = " or ".join(endpoints)
        failure = classify(exc, endpoint=where, connect_timeout=config.connect_timeout)
        return ConnectFailed(failure.field, failure.display)


__all__ = ["CLIENT_EVENT_QUEUE", "connect_client"]
