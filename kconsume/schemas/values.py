"""What a schema codec returns: the decoded value, and which schema decoded it."""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["SchemaValue", "json_ready"]


@dataclass(slots=True)  # not frozen: built per message, and a frozen __init__ costs more
class SchemaValue:
    """A value decoded with a schema (or found framed but not decoded: ``decoded`` False).

    Filters, scripts and templates see ``value`` alone (plain JSON-compatible data);
    the jsonl envelope and the message view also show the schema id and subject.
    """

    value: Any
    schema_id: int | None
    subject: str | None = None
    schema_type: str | None = None
    """``AVRO``, ``PROTOBUF``, ``JSON``; None when not decoded."""
    decoded: bool = True
    """False: Confluent framing seen, but no registry to decode it (``value`` is the bytes)."""


def _datetime(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.isoformat().replace("+00:00", "Z")


def json_ready(value: Any) -> Any:
    """``value`` with what JSON cannot hold made readable, recursively.

    Caller: the Avro decoder, for schemas with logical types, bytes or fixed.
    Timestamps become ISO 8601 (UTC, ``Z``), dates and times ISO 8601, decimals exact
    decimal text, UUIDs text, bytes base64.
    """
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime.datetime):
        return _datetime(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value
