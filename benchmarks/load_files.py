"""The two sides of the file benchmark (bench_files.py), each in a child process.

``library_transfer`` is zmqchat's: the library's ``Client.send_file`` then
``get_file`` of what it sent, through a real broker. ``raw_server`` and
``raw_transfer`` are the baseline: bare pyzmq DEALER/ROUTER moving the same file
in the same 60 KiB chunks under the same credit window of 8 (the ZeroMQ Guide's
fileio3: the side that receives grants the credit), the server writing what it
gets to a file and reading ranges back from it. Nothing is encoded with msgpack,
validated, hashed or stored in SQLite there: that is what zmqchat adds.

Each transfer reports ``("ready", None)``, waits for ``go``, then reports
``("phase", name, started, ended)`` per direction (wall-clock seconds, so the
coordinator can pick the bystander's chats sent meanwhile) and ``("done", None)``.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq

from zmqchat import Client
from zmqchat.common.files import CHUNK_BYTES, WINDOW

FILE_ROOM = "files"
_OFFSET = struct.Struct("!Q")
_RANGE = struct.Struct("!QI")


def library_transfer(endpoint: str, source: str, out: Any, go: Any) -> None:
    """Upload ``source`` to room ``files`` with the library, then download it."""
    with tempfile.TemporaryDirectory(prefix="zmqchat-bench-get-") as tmp:
        client = Client("sender", endpoint, rooms=(FILE_ROOM,))
        client.connect(timeout=20)
        try:
            out.put(("ready", None))
            go.wait(60)
            t0 = time.time()
            done = client.send_file(source, room=FILE_ROOM)
            t1 = time.time()
            out.put(("phase", "upload", t0, t1))
            fetched = client.get_file(done.id, Path(tmp) / "copy.bin")
            t2 = time.time()
            out.put(("phase", "download", t1, t2))
            if fetched.size != os.path.getsize(source):
                raise RuntimeError(f"fetched {fetched.size} bytes of {os.path.getsize(source)}")
        finally:
            client.close()
    out.put(("done", None))


def raw_server(ports: Any, folder: str) -> None:
    """ROUTER: ``put`` appends a chunk to the upload's file and acks the bytes it
    holds; ``get`` answers a range of it. Serves until terminated."""
    ctx: zmq.Context[Any] = zmq.Context()
    router: zmq.Socket[Any] = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    ports.put((port, 0))
    path = os.path.join(folder, "upload.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    held = 0
    while True:
        rid, kind, *rest = router.recv_multipart(copy=True)
        if kind == b"put":
            (offset,) = _OFFSET.unpack(rest[0])
            if offset == held:  # the same check zmqchat makes, and nothing more
                os.write(fd, rest[1])
                held += len(rest[1])
            router.send_multipart([rid, b"ack", _OFFSET.pack(held)])
        elif kind == b"get":
            offset, size = _RANGE.unpack(rest[0])
            router.send_multipart([rid, b"data", rest[0], os.pread(fd, size, offset)])
        elif kind == b"reset":
            os.ftruncate(fd, 0)
            held = 0
            router.send_multipart([rid, b"ok"])


def raw_transfer(endpoint: str, source: str, out: Any, go: Any) -> None:
    """DEALER: up to WINDOW chunks of ``source`` unacknowledged, then up to WINDOW
    ranges asked for at a time, written where they belong in a copy."""
    ctx: zmq.Context[Any] = zmq.Context()
    sock: zmq.Socket[Any] = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send_multipart([b"reset"])
    if not sock.poll(20_000):
        raise RuntimeError("the raw server does not answer")
    sock.recv_multipart()
    size = os.path.getsize(source)
    out.put(("ready", None))
    go.wait(60)
    with tempfile.TemporaryDirectory(prefix="zmqchat-bench-get-") as tmp:
        t0 = time.time()
        _raw_upload(sock, source, size)
        t1 = time.time()
        out.put(("phase", "upload", t0, t1))
        _raw_download(sock, os.path.join(tmp, "copy.bin"), size)
        t2 = time.time()
        out.put(("phase", "download", t1, t2))
    ctx.destroy(0)
    out.put(("done", None))


def _raw_upload(sock: zmq.Socket[Any], source: str, size: int) -> None:
    with open(source, "rb") as f:
        sent = acked = credit = 0
        credit = WINDOW
        while acked < size:
            while credit and sent < size:
                data = f.read(CHUNK_BYTES)
                sock.send_multipart([b"put", _OFFSET.pack(sent), data])
                sent += len(data)
                credit -= 1
            _, held = sock.recv_multipart()
            acked = max(acked, _OFFSET.unpack(held)[0])
            credit += 1


def _raw_download(sock: zmq.Socket[Any], target: str, size: int) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        asked = have = 0
        credit = WINDOW
        while have < size:
            while credit and asked < size:
                sock.send_multipart([b"get", _RANGE.pack(asked, CHUNK_BYTES)])
                asked += CHUNK_BYTES
                credit -= 1
            _, header, data = sock.recv_multipart()
            offset, _ = _RANGE.unpack(header)
            os.pwrite(fd, data, offset)
            have += len(data)
            credit += 1
    finally:
        os.close(fd)


def make_source(path: Path, size: int) -> Path:
    """``size`` random bytes (nothing the broker could find stored already)."""
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            f.write(block)
            left -= len(block)
    return path
