"""The machinery of message records: :class:`Record` (a ``TYPE`` tag and a map
form) and the :func:`record` decorator that makes a frozen, slotted dataclass of one.

The records themselves are in :mod:`zmqchat.common.messages` (protocol v1) and
:mod:`zmqchat.common.moderation` (room topics and moderation, additive to v1).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

Ref = int | str | None

_T = TypeVar("_T")


class Record:
    """Base of every message record: a ``TYPE`` tag and a map form."""

    __slots__ = ()
    TYPE: ClassVar[str]
    # (attribute, wire key, required) triples, filled in by @record; fields marked
    # wire=False are broker-internal and never serialised.
    _WIRE: ClassVar[tuple[tuple[str, str, bool], ...]]
    _KEYS: ClassVar[tuple[str, ...]]  # "type" (if tagged) and the keys of _WIRE, in order
    _VALUES: ClassVar[Callable[[Record], tuple[Any, ...]]]  # their values

    def to_wire(self) -> dict[str, Any]:
        """The msgpack-ready map of this message, ``type`` first.

        None values are left out, except ``ref``: every reply echoes it, nil included.
        Records holding other records (``rooms``, ``history``) extend this.
        """
        # On the broker's hot path (two per chat), hence the attrgetter.
        out: dict[str, Any] = {}
        for key, value in zip(self._KEYS, type(self)._VALUES(self), strict=True):
            if value is not None or key == "ref":
                out[key] = value
        return out


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(type_: str, **renames: str) -> Callable[[type[_T]], type[_T]]:
    """Make a frozen, slotted dataclass tagged ``type_``; ``renames`` maps attributes
    whose wire key is a Python keyword (``sender`` -> ``from``)."""

    def wrap(cls: type[_T]) -> type[_T]:
        dc = dataclasses.dataclass(frozen=True, slots=True)(cls)
        dc.TYPE = type_  # type: ignore[attr-defined]
        dc._WIRE = tuple(  # type: ignore[attr-defined]
            (
                f.name,
                renames.get(f.name, f.name),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(dc)  # type: ignore[arg-type]
            if f.metadata.get("wire", True)
        )
        # One attrgetter fetches the tag and every wire field in a single C call; with
        # at least two names it always returns a tuple.
        tagged = bool(type_)
        names = ["TYPE"] * tagged + [attr for attr, _, _ in dc._WIRE]  # type: ignore[attr-defined]
        assert len(names) >= 2, f"{cls.__name__}: too few fields for a record"
        dc._KEYS = ("type",) * tagged + tuple(k for _, k, _ in dc._WIRE)  # type: ignore[attr-defined]
        dc._VALUES = operator.attrgetter(*names)  # type: ignore[attr-defined]
        return dc

    return wrap


def keyword_only() -> Any:
    """A required keyword-only field (it may follow optional ones)."""
    return dataclasses.field(kw_only=True)


def internal(default: Any = None) -> Any:
    """A field the broker keeps on a record but never puts on the wire."""
    return dataclasses.field(default=default, compare=False, repr=False, metadata={"wire": False})


__all__ = ["Record", "Ref", "internal", "keyword_only", "record"]
