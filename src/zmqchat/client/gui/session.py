"""The window's one client over time: connected on the view model's worker thread
from the form's settings, handed to the shared controller, and closed with ``bye``
when the window closes.

The form's fields are checked by :mod:`.connect_form` and the client made by
:mod:`.connecting`; this is their order and the hand-over between threads: the
worker connects, the Tk thread learns the outcome from a step queued for
:meth:`~.viewmodel.ChatViewModel.drain`, and a window closed while connecting closes
the new client at once."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from collections.abc import Callable

from zmqchat.client.chat.controller import ChatController
from zmqchat.client.gui.connect_form import ConnectFailed, Settings, check_settings
from zmqchat.client.gui.connecting import connect_client
from zmqchat.client.gui.panes import Changes
from zmqchat.client.gui.prefs import LastConnect
from zmqchat.client.io.sync import Client
from zmqchat.common.config import ClientConfig
from zmqchat.common.endpoints import host_port
from zmqchat.common.messages import Welcome
from zmqchat.common.threads import start_thread

# What the client's and the worker's threads hand the Tk thread: a step that takes
# their result in there, into the view model and the changes being gathered.
Step = Callable[[Changes], None]


class Session:
    """Connecting, the connected client, and closing it, for one window."""

    def __init__(
        self,
        config: ClientConfig,
        controller: ChatController,
        *,
        rooms: tuple[str, ...],
        worker: concurrent.futures.ThreadPoolExecutor,
        hand_over: Callable[[Step], None],
        remember: Callable[[LastConnect], None] | None,
        password: str | None,
        known_brokers: str | os.PathLike[str],
    ) -> None:
        self.config = config
        self.controller = controller
        self.rooms = rooms
        self.password = password
        self.known_brokers = known_brokers
        self._worker = worker
        self._hand_over = hand_over
        self._remember = remember
        self.client: Client | None = None
        self.endpoint = config.broker_endpoints[0]
        self.connecting = False
        self.closed = threading.Event()  # set once bye was said (or given up on)
        self._lock = threading.Lock()  # hands the client over between connect and close
        self._closing = False

    def connect(
        self,
        user: str,
        host: str,
        port: str,
        password: str = "",
        server_key: str = "",
        *,
        confirmed: bool = True,
    ) -> ConnectFailed | None:
        """See :meth:`~.viewmodel.ChatViewModel.connect`."""
        settings = check_settings(
            user,
            host,
            port,
            password,
            server_key,
            given_password=self.password,
            given_key=self.config.server_key,
        )
        if isinstance(settings, ConnectFailed):
            return settings
        if self.connecting or self.client is not None:
            raise RuntimeError("already connecting or connected")
        self.connecting = True
        self._worker.submit(self._connect, settings, confirmed)
        return None

    def _connect(self, settings: Settings, confirmed: bool) -> None:
        endpoint = settings.endpoints[0]
        self.controller.prepare(settings.user, self.rooms)
        connected = connect_client(
            self.config,
            settings,
            rooms=self.rooms,
            known_brokers=self.known_brokers,
            on_event=self.controller.on_event,
        )
        if isinstance(connected, ConnectFailed):
            self.controller.prepare("", ())  # the name was not taken up
            self._hand_over(functools.partial(self._connect_failed, connected))
            return
        client, welcome = connected
        with self._lock:
            if self._closing:  # the window was closed while connecting
                client.close(1.0)
                return
            self.client, self.endpoint = client, endpoint
        if confirmed and self._remember is not None:
            host, port = host_port(settings.endpoints[0])
            several = settings.endpoints if len(settings.endpoints) > 1 else ()
            self._remember(LastConnect(welcome.user, host, port, several))
        self._hand_over(functools.partial(self._connected, welcome))
        # On the worker, so that lines typed meanwhile run after the rooms are shown.
        self.controller.attach(client, welcome)

    def close(self) -> None:
        """See :meth:`~.viewmodel.ChatViewModel.close`."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            client = self.client
        self.controller.quitting()

        def bye() -> None:
            try:
                if client is not None:
                    client.close(1.0)
            finally:
                self._worker.shutdown(wait=False, cancel_futures=True)
                self.closed.set()

        start_thread(bye, "zmqchat-gui-bye")

    # The steps queued for the Tk thread.

    def _connected(self, welcome: Welcome, changes: Changes) -> None:
        self.connecting = False
        changes.connected = welcome

    def _connect_failed(self, failed: ConnectFailed, changes: Changes) -> None:
        self.connecting = False
        changes.connect_failed = failed


__all__ = ["Session", "Step"]
