"""The client without sockets: the connection state machine, room sequencing, and the
events a client hands to its program. Nothing here imports zmq."""
