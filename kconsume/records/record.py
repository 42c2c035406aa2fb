"""The view of one consumed message that filters, scripts and templates see."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.types import Event, Headers
from ..schemas import SchemaValue
from .decoding import Undecodable

__all__ = ["ConsumedRecord", "header_dict", "plain"]


def header_value(value: bytes | None) -> str | bytes | None:
    """Header bytes as text when they are UTF-8, else the bytes."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def header_dict(
    headers: Headers, convert: Callable[[bytes | None], Any] = header_value
) -> dict[str, Any]:
    """Headers by name, each value ``convert``-ed; a name that repeats maps to a list."""
    out: dict[str, Any] = {}
    for name, value in headers:
        decoded = convert(value)
        if name in out:
            previous = out[name]
            out[name] = [*previous, decoded] if isinstance(previous, list) else [previous, decoded]
        else:
            out[name] = decoded
    return out


def plain(value: Any) -> Any:
    """What filters see: undecodable payloads as their bytes, schema values as the value."""
    if isinstance(value, Undecodable):
        return value.data
    if isinstance(value, SchemaValue):
        return value.value
    return value


@dataclass(slots=True)
class ConsumedRecord:
    """A message as ``--where``, ``--script`` and templates see it (``msg``)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """Milliseconds since the epoch (-1 if the producer gave none)."""
    key: Any
    value: Any
    headers: dict[str, Any]
    raw_key: bytes | None
    raw_value: bytes | None

    @classmethod
    def from_event(cls, event: Event) -> ConsumedRecord:
        m = event.message
        return cls(
            m.topic,
            m.partition,
            m.offset,
            m.timestamp,
            plain(event.key),
            plain(event.value),
            header_dict(m.headers),
            m.key,
            m.value,
        )

    def names(self) -> dict[str, Any]:
        """The names a ``--where`` expression can use."""
        return {
            "key": self.key,
            "value": self.value,
            "headers": self.headers,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "msg": self,
        }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
