"""The package version, in a module of its own so that reading it imports nothing else
(``from zmqchat import __version__`` would run the package face and load the client)."""

__version__ = "0.1.0"
