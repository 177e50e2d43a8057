"""The client's socket side: transport set-up, the socket driver, and the two faces over
them, the thread-based :class:`~zmqchat.client.io.sync.Client` and the asyncio
:class:`~zmqchat.client.io.aio.AsyncClient`."""
