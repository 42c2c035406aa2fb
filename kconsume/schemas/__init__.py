"""Avro, Protobuf and JSON Schema: values in the Confluent wire format, decoded.

Codecs named ``avro``, ``protobuf`` and ``jsonschema``, usable wherever a codec is
named.  Their schemas come from a Schema Registry (fetched by id once, cached) or from
local files.  The libraries (fastavro, protobuf) are the ``kconsume[schemas]`` extra,
imported only when a schema is first built.

For the engine API::

    from kconsume.schemas import configure
    configure(registry="http://localhost:8081")
    app.stream("orders", value="avro")

Nothing here imports Textual or Typer.
"""

from __future__ import annotations

from typing import Any

from ..engine.codecs import Codec, register_codec
from .decoders import FORMATS, SchemaDecoders, SchemaSettings
from .errors import MissingExtraError, SchemaError
from .registry import RegisteredSchema, RegistryError, RegistrySettings, SchemaRegistry
from .values import SchemaValue

__all__ = [
    "FORMATS",
    "MissingExtraError",
    "RegisteredSchema",
    "RegistryError",
    "RegistrySettings",
    "SchemaDecoders",
    "SchemaError",
    "SchemaRegistry",
    "SchemaSettings",
    "SchemaValue",
    "configure",
    "schema_codec",
]


def schema_codec(fmt: str, settings: SchemaSettings, *, key: bool = False) -> Codec:
    """The codec for ``fmt`` (avro, protobuf, jsonschema) with these settings.

    It returns a :class:`SchemaValue` and raises :class:`SchemaError` (a ValueError) for
    a payload it cannot decode, which the engine counts as a decode error.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown schema format {fmt!r} (use {', '.join(FORMATS)})")
    decoders = settings.decoders()

    def decode(data: bytes) -> SchemaValue:
        return decoders.decode(fmt, data, key=key)

    return Codec(fmt, decode)


def configure(registry: str | RegistrySettings | None = None, **settings: Any) -> SchemaSettings:
    """Register the ``avro``, ``protobuf`` and ``jsonschema`` codecs with these settings
    (``registry``: a URL or :class:`RegistrySettings`; other keywords are
    :class:`SchemaSettings` fields).  Caller: engine users, before declaring streams.
    """
    if isinstance(registry, str):
        registry = RegistrySettings(registry)
    chosen = SchemaSettings(registry=registry, **settings)
    for fmt in FORMATS:
        register_codec(schema_codec(fmt, chosen))
    return chosen


configure()  # the names exist from the start; without a registry, framing is required
