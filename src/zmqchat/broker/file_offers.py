"""Whether a file offer may go ahead, decided before a byte moves (docs/protocol.md
§2.16): who receives it (refused as ``pm`` is: ``user_offline``, ``no_such_user``,
or the sender not in the room), ``too_large``, and, for bytes the broker does not
hold yet, ``quota_exceeded`` and ``disk_full``.

:class:`~zmqchat.broker.transfers.Transfers` asks these once per offer; chunks and
downloads never come here.
"""

from __future__ import annotations

from zmqchat.broker.blobs import Blobs
from zmqchat.broker.membership import Membership, require_member
from zmqchat.broker.state import BrokerState, Session
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.files import FileOffer, human_size
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.errors import ProtocolError


class OfferChecks:
    """The refusals of ``file_offer``, each a :class:`ProtocolError`."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        config: BrokerConfig,
        membership: Membership,
        blobs: Blobs,
    ) -> None:
        self.state = state
        self.store = store
        self.config = config
        self.membership = membership
        self.blobs = blobs

    def admit(self, session: Session, req: FileOffer) -> tuple[str | None, str | None]:
        """Who the file is for: (None, None) for a room the sender is in, else the
        recipient's display name and key; refused before that if the sender may not
        send it there, and after it if the file is too large."""
        found = self._receiver(session, req)
        if req.size > self.config.max_file_size:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"{req.name} is {human_size(req.size)}; files may be at most "
                f"{human_size(self.config.max_file_size)}",
            )
        return found

    def _receiver(self, session: Session, req: FileOffer) -> tuple[str | None, str | None]:
        if req.room is not None:
            require_member(session, req.room)
            return None, None
        assert req.to is not None
        key = user_key(req.to)
        target = self.state.by_key.get(key)
        if target is not None and target.rid is not None:
            return target.user, key
        held = self.membership.names.where(key) if target is None else None
        if held is not None:  # online on another node
            return held[1], key
        account = self.store.account(req.to) if self.config.auth != "open" else None
        if account is not None:
            return account.name, key
        if target is not None or self.store.user_known(key):
            raise ProtocolError(ErrorCode.USER_OFFLINE, f"{req.to} is not online")
        raise ProtocolError(ErrorCode.NO_SUCH_USER, f"there is no user {req.to}")

    def space_for(self, session: Session, req: FileOffer) -> None:
        """Quota and disk space for new bytes, before any is sent."""
        quota = self.config.file_quota
        if quota:
            used = (
                self.store.reader()
                .execute(
                    "SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT sha256, size FROM files"
                    " WHERE sender_key = ? AND sha256 != ?)",
                    (session.key, req.sha256),
                )
                .fetchone()[0]
            )
            if used + req.size > quota:
                raise ProtocolError(
                    ErrorCode.QUOTA_EXCEEDED,
                    f"your files hold {human_size(used)}; {req.name} would take them past "
                    f"your quota of {human_size(quota)}",
                )
        if self.blobs.free() - req.size < self.config.disk_floor:
            raise ProtocolError(
                ErrorCode.DISK_FULL,
                f"the broker's disk has no room for {req.name} ({human_size(req.size)})",
            )


__all__ = ["OfferChecks"]
