"""The client's socket side: transport set-up, the socket driver, and the two faces over
them, the thread-based :class:`~zmqchat.client.io.sync.Client` and the asyncio
:class:`~zmqchat.client.io.aio.AsyncClient`, on one shared
:class:`~zmqchat.client.io.base.BaseClient` (options, properties, request methods)."""
