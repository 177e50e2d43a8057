"""File transfers: ``file_offer``, ``file_chunk`` and ``file_get`` (docs/protocol.md
§2.16).

An offer is checked whole before a byte moves (:mod:`.file_offers`): who may receive
it, ``too_large``, ``quota_exceeded``, ``disk_full``. Content the broker already
holds is published at once. Otherwise the uploader sends chunks within the credit
window the accept gave; each is appended to the upload's part file as it arrives (so
the broker holds no more than the frames of one window per transfer) and fed to a
running sha256. The last one is checked against the offered hash: a mismatch drops
the upload and publishes nothing; a match makes the part a blob and publishes a
``file`` event in the room (stored like a chat, with the room's next seq) or pushes
it to the recipient. Downloads read ranges of blobs, for the room's members or the
two sides of a private transfer.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
from collections.abc import Callable
from typing import Any, Final

from zmqchat.broker.blobs import Blobs
from zmqchat.broker.file_offers import OfferChecks
from zmqchat.broker.leftovers import Leftovers
from zmqchat.broker.membership import Membership
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.ratelimits import ChunkLimits
from zmqchat.broker.records import Records
from zmqchat.broker.remote_files import RemoteFiles
from zmqchat.broker.state import BrokerState, Session
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.files import (
    CHUNK_BYTES,
    WINDOW,
    FileAccept,
    FileAck,
    FileChunk,
    FileData,
    FileDone,
    FileEvent,
    FileGet,
    FileOffer,
    PrivateFileEvent,
)
from zmqchat.common.messages import DeleteEvent
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

_COLUMNS: Final = "id, sha256, name, size, sender, sender_key, room, recipient, recipient_key, done"
# Rows of finished files kept for downloads (each range would read its row again).
_FILES_KEPT: Final = 64


@dataclasses.dataclass(slots=True)
class _Live:
    """An upload under way, as this broker process knows it: what a chunk needs
    without a SELECT, a stat or a read of its part file."""

    sender_key: str
    size: int
    held: int  # bytes in the part file
    digest: Any  # the running sha256 of those bytes


class Transfers:
    """Uploads and downloads of one broker; rows in the store's ``files`` table,
    bytes in :class:`Blobs`."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        config: BrokerConfig,
        clock: Callable[[], float],
        membership: Membership,
        blobs: Blobs | None = None,
        records: Records | None = None,
    ) -> None:
        """``records``: with the Redis engine, file rows (and their ids) are the
        cluster's, and the files folder is one every node mounts."""
        self.records = records if records is not None else Records()
        self.remote = RemoteFiles(state, out, membership.names)
        self.state = state
        self.store = store
        self.out = out
        self.config = config
        self.clock = clock
        self.membership = membership
        self.blobs = blobs if blobs is not None else Blobs(config.files_path, fsync=config.fsync)
        self.checks = OfferChecks(state, store, config, membership, self.blobs)
        # Other nodes' blobs are in a shared folder before their rows reach this
        # node's store: only blobs this node saw lose their last row are removed.
        self.leftovers = Leftovers(store, self.blobs, config, clock, scan=not self.records.shared)
        # The uploads seen since start that are under way; one resumed after a
        # restart is read once from its row and hashed once from its part file.
        # Every change to an upload's row or part file goes through here, or drops
        # its entry (a rolled back batch drops them all: store_failed()).
        self._live: dict[int, _Live] = {}
        # Finished files' rows, as downloads read them: such a row changes only when
        # the file is deleted (release()) or its batch rolled back (store_failed()).
        self._files: dict[int, dict[str, Any]] = {}
        self._chunks = ChunkLimits(config.file_rate_limit, config.file_rate_burst)

    # ---------------------------------------------------------------- uploading

    def offer(self, session: Session, req: FileOffer, now: float) -> None:
        recipient, recipient_key = self.checks.admit(session, req)
        if session.bucket is not None and not session.bucket.take(now):
            # An offer ends in a published event: as costly as a chat.
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many files offered; slow down")
        db = self.store.writer()
        if self.blobs.has(req.sha256):  # the same content: stored once, sent at once
            stored = self._insert(session, req, recipient, recipient_key)
            self._finish(session, stored, req, recipient, req.ref)
            return
        found = db.execute(
            "SELECT id FROM files WHERE sender_key = ? AND sha256 = ? AND done IS NULL"
            " AND room IS ? AND recipient_key IS ? ORDER BY id DESC LIMIT 1",
            (session.key, req.sha256, req.room, recipient_key),
        ).fetchone()
        upload = None if found is None else int(found[0])
        held = 0 if upload is None else self.blobs.held(upload)
        live = None if upload is None else self._live.get(upload)
        if upload is not None and live is not None and live.held != held:
            del self._live[upload]  # kept for another part file: hashed again
            live = None
        if upload is None or held > req.size:
            self.checks.space_for(session, req)
            held = 0
            upload = self._insert(session, req, recipient, recipient_key)
            self.blobs.start(upload)
            # (An entry of the same id, one a failed commit gave back, goes.)
            self._live[upload] = _Live(session.key, req.size, 0, hashlib.sha256())
        else:
            db.execute(
                "UPDATE files SET name = ?, size = ? WHERE id = ?", (req.name, req.size, upload)
            )
            self.records.file_update(upload, {"name": req.name, "size": req.size})
            if live is not None:
                live.size = req.size
            log.info("%s resumes upload %d at %d of %d bytes", session.user, upload, held, req.size)
        if held == req.size:
            self._complete(session, upload, req.ref)
            return
        self.out.reply_to(
            session,
            FileAccept(id=upload, offset=held, window=WINDOW, chunk=CHUNK_BYTES, ref=req.ref),
        )

    def _insert(
        self, session: Session, req: FileOffer, recipient: str | None, key: str | None
    ) -> int:
        row = {"sha256": req.sha256, "name": req.name, "size": req.size, "sender": session.user,
               "sender_key": session.key, "room": req.room, "recipient": recipient,
               "recipient_key": key, "created": self.clock()}  # fmt: skip
        # With the Redis engine, the id is the cluster's (and so is the part file's
        # name in the shared folder); the row goes to every node.
        file_id = self.records.file(row)
        cursor = self.store.writer().execute(
            f"INSERT INTO files (id, {', '.join(row)}) VALUES (?{', ?' * len(row)})",
            (file_id, *row.values()),
        )
        upload = cursor.lastrowid
        assert upload is not None
        return upload

    def chunk(self, session: Session, req: FileChunk, now: float) -> None:
        self._spend(session, now)
        live = self._live.get(req.id)
        if live is None:
            live = self._load(session, req.id)
        elif live.sender_key != session.key:
            raise ProtocolError(ErrorCode.NO_SUCH_FILE, f"no upload {req.id} of yours is under way")
        held, data = live.held, req.data
        if req.offset != held:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"upload {req.id} holds {held} bytes: send from there"
            )
        if held + len(data) > live.size:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"the chunk runs past the end ({live.size} bytes)"
            )
        try:
            self.blobs.append(req.id, data)
        except OSError as exc:
            self._live.pop(req.id, None)  # what the part holds is read again
            if exc.errno != errno.ENOSPC:
                raise
            raise ProtocolError(ErrorCode.DISK_FULL, "the broker's disk is full") from None
        live.digest.update(data)
        live.held = held = held + len(data)
        if held < live.size:
            self.out.reply_now(session, FileAck(id=req.id, offset=held, ref=req.ref))
            return
        self._complete(session, req.id, req.ref)

    def _load(self, session: Session, upload: int) -> _Live:
        """An upload this process has not seen yet (begun before a restart): its row,
        and its part file hashed once."""
        row = self._row(upload)
        if row is None or row["done"] is not None or row["sender_key"] != session.key:
            raise ProtocolError(ErrorCode.NO_SUCH_FILE, f"no upload {upload} of yours is under way")
        live = _Live(
            row["sender_key"], row["size"], self.blobs.held(upload), self.blobs.hash_part(upload)
        )
        self._live[upload] = live
        return live

    def store_failed(self) -> None:
        """A batch was rolled back: the rows of uploads offered in it are gone (their
        ids may come back for others), so what is known of uploads is read again."""
        self._live.clear()
        self._files.clear()

    def release(self, room: str, seq: int) -> int | None:
        """The file event ``seq`` of ``room`` was deleted: so is its file
        (:meth:`.leftovers.Leftovers.release`)."""
        upload = self.leftovers.release(room, seq)
        if upload is not None:
            self._files.pop(upload, None)
            self.records.drop_file(upload)
        return upload

    def deleted_elsewhere(self, event: object) -> None:
        """A room event applied from another node (a watcher of the room events):
        a delete may have been a file's, whose row the records drop; rows of
        finished files kept for downloads are read again."""
        if isinstance(event, DeleteEvent):
            self._files.clear()

    def dropped_elsewhere(self, upload: int) -> None:
        """Another node's record dropped file ``upload``'s row from the store, maybe
        after a download here read it again since the delete's event: its kept row
        goes too, or the file would still be served here."""
        self._files.pop(upload, None)

    def close(self) -> None:
        self.blobs.close()

    def _complete(self, session: Session, upload: int, ref: Any) -> None:
        """All bytes are in: publish them if they are what was offered."""
        row = self._row(upload)
        live = self._live.pop(upload, None)
        if row is None or row["done"] is not None or row["sender_key"] != session.key:
            if row is None:  # its offer was rolled back with a failed commit
                self.blobs.drop(upload)
            raise ProtocolError(ErrorCode.NO_SUCH_FILE, f"no upload {upload} of yours is under way")
        digest = live.digest if live is not None else self.blobs.hash_part(upload)
        if digest.hexdigest() != row["sha256"]:
            self.blobs.drop(upload)
            self.store.writer().execute("DELETE FROM files WHERE id = ?", (upload,))
            self.records.drop_file(upload)
            log.warning("%s's upload %d did not match its sha256; dropped", session.user, upload)
            raise ProtocolError(
                ErrorCode.HASH_MISMATCH,
                f"the bytes of {row['name']} do not have the sha256 offered; nothing was "
                "kept or published: send it again",
            )
        self.blobs.keep(upload, row["sha256"])
        offer = FileOffer(
            name=row["name"], size=row["size"], sha256=row["sha256"], room=row["room"], to=None
        )
        self._finish(session, upload, offer, row["recipient"], ref)

    def _finish(
        self, session: Session, upload: int, req: FileOffer, recipient: str | None, ref: Any
    ) -> None:
        """Publish a stored file (its blob is on disk) and answer ``file_done``."""
        ts = self.clock()
        if req.room is not None:
            room = self.membership.room(req.room)

            def done(event: FileEvent) -> None:
                log.info("%s sent %s (%d bytes) to %s (seq %d)",
                         session.user, req.name, req.size, req.room, event.seq)  # fmt: skip
                # After the row in the records: a node that applies the event first
                # (another stream) finds no row to mark, then this.
                self.records.file_update(upload, {"done": event.ts, "seq": event.seq})
                reply = FileDone(id=upload, sha256=req.sha256, size=req.size, room=req.room,
                                 seq=event.seq, ref=ref)  # fmt: skip
                self.out.reply_to(session, reply)

            def make(seq: int) -> FileEvent:
                return FileEvent(room=room.name, seq=seq, sender=session.user, name=req.name,
                                 size=req.size, sha256=req.sha256, id=upload, ts=ts)  # fmt: skip

            self.membership.events.append(room, make, then=done)
        else:
            assert recipient is not None
            push = PrivateFileEvent(id=upload, sender=session.user, to=recipient, name=req.name,
                                    size=req.size, sha256=req.sha256, ts=ts)  # fmt: skip
            target = self.state.by_key.get(user_key(recipient))
            online = target is not None and target.rid is not None
            if target is None and self.remote.hand_over(recipient, push):
                online = True
            # Offline, it waits (delivered NULL) for the account's next login: mailbox.py.
            self.store.writer().execute(
                "UPDATE files SET done = ?, delivered = ? WHERE id = ?",
                (ts, ts if online else None, upload),
            )
            self.records.file_update(upload, {"done": ts, "delivered": ts if online else None})
            if target is not None and online:
                self.out.reply_to(target, push)
            log.info("%s sent %s (%d bytes) to %s", session.user, req.name, req.size, recipient)
            reply = FileDone(id=upload, sha256=req.sha256, size=req.size, to=recipient,
                             status="delivered" if online else "stored", ref=ref)  # fmt: skip
            self.out.reply_to(session, reply)

    # -------------------------------------------------------------- downloading

    def get(self, session: Session, req: FileGet, now: float) -> None:
        self._spend(session, now)
        row = self._files.get(req.id)
        if row is None:
            row = self._row(req.id)
            if row is None or row["done"] is None:
                raise ProtocolError(ErrorCode.NO_SUCH_FILE, f"there is no file {req.id}")
            if len(self._files) >= _FILES_KEPT:
                self._files.clear()
            self._files[req.id] = row
        if row["room"] is not None:
            if row["room"] not in session.rooms:
                raise ProtocolError(
                    ErrorCode.NOT_IN_ROOM,
                    f"file {req.id} was sent to room {row['room']}: only its members may fetch it",
                )
        elif session.key not in (row["sender_key"], row["recipient_key"]):
            # Whether a private file exists is none of a third party's business.
            raise ProtocolError(ErrorCode.NO_SUCH_FILE, f"there is no file {req.id}")
        if req.offset > row["size"]:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"offset {req.offset} is past the end ({row['size']} bytes)"
            )
        data = self.blobs.read(row["sha256"], req.offset, req.size)
        reply = FileData(id=req.id, offset=req.offset, data=data,
                         eof=req.offset + len(data) >= row["size"], name=row["name"],
                         size=row["size"], sha256=row["sha256"], ref=req.ref)  # fmt: skip
        self.out.reply_now(session, reply)

    # --------------------------------------------------------------- shared parts

    def _row(self, upload: int) -> dict[str, Any] | None:
        found = (
            self.store.reader()
            .execute(f"SELECT {_COLUMNS} FROM files WHERE id = ?", (upload,))
            .fetchone()
        )
        return None if found is None else dict(zip(_COLUMNS.split(", "), found, strict=True))

    def _spend(self, session: Session, now: float) -> None:
        """Chunks and gets of one address share a bucket of their own: flow control
        (the window) bounds each transfer, this bounds how many a peer runs."""
        if session.address is not None:
            self._chunks.take(session.address, now)

    # ------------------------------------------------------------------ expiry

    def sweep(self, now: float) -> None:
        """Unfinished uploads past ``upload_expiry`` and blobs no file refers to any
        more go (:mod:`.leftovers`)."""
        for upload in self.leftovers.sweep(now):
            self._live.pop(upload, None)


__all__ = ["Transfers"]
