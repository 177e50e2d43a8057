"""The client without sockets: the connection state machine, room sequencing, every
typed request (record, reply, result), and the events a client hands to its program
with the bounded buffer they wait in. Nothing here imports zmq."""
