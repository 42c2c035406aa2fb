"""Avro with fastavro: a writer schema parsed once, then ``schemaless_reader`` per message."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from .errors import MissingExtraError, SchemaError
from .values import json_ready

__all__ = ["AvroDecoder", "load_avsc"]


def _fastavro() -> Any:
    try:
        import fastavro
    except ImportError:
        raise MissingExtraError("avro", "fastavro") from None
    return fastavro


def load_avsc(path: Path) -> Any:
    """The JSON of an ``.avsc`` file.  Raises ValueError (a usage error) if it is not one."""
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"--schema {path}: not an Avro schema file: {exc}") from None


class AvroDecoder:
    """Decodes Avro payloads written with one schema.  Built once per schema id.

    Logical types (timestamps, dates, decimals, UUIDs), bytes and fixed come out as
    JSON-compatible text (:func:`json_ready`); a schema without them skips that walk.
    """

    def __init__(self, schema: Any, named: Mapping[str, Any] | None = None) -> None:
        """``schema``: the parsed JSON (or its text); ``named``: referenced schemas' JSON."""
        fastavro = _fastavro()
        if isinstance(schema, str):
            try:
                schema = orjson.loads(schema)
            except orjson.JSONDecodeError:
                schema = schema.strip()  # a bare primitive name, as "string"
        named_schemas: dict[str, Any] = {}
        try:
            for referenced in (named or {}).values():
                fastavro.parse_schema(referenced, named_schemas=named_schemas)
            self.schema = fastavro.parse_schema(schema, named_schemas=named_schemas)
        except Exception as exc:  # fastavro raises SchemaParseException, KeyError, ...
            raise SchemaError(f"not a valid Avro schema: {type(exc).__name__}: {exc}") from None
        text = orjson.dumps(schema).decode()
        self._plain = not any(w in text for w in ('"logicalType"', '"bytes"', '"fixed"'))
        self._read: Callable[..., Any] = fastavro.schemaless_reader

    def decode(self, payload: bytes | memoryview, *, exact: bool = False) -> Any:
        """The value in ``payload``.  Raises SchemaError if it does not decode (or, with
        ``exact``, if bytes are left over)."""
        stream = io.BytesIO(payload)
        try:
            value = self._read(stream, self.schema, None)
        except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError, ...
            raise SchemaError(f"corrupt Avro payload: {type(exc).__name__}: {exc}") from None
        if exact and stream.tell() != len(payload):
            raise SchemaError(f"{len(payload) - stream.tell()} bytes left after the Avro value")
        return value if self._plain else json_ready(value)
