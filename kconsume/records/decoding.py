"""Key and value formats for ``consume``: auto, json, str, raw, int, avro, protobuf, jsonschema.

These are engine codecs that never raise: a payload a format cannot decode comes
back as :class:`Undecodable`, so the message is still written out (its bytes
intact, with the error) instead of vanishing from the output.

The schema formats (and ``auto`` on a payload in the Confluent wire format) return a
:class:`~kconsume.schemas.SchemaValue`: the decoded value with its schema id and subject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..engine.codecs import Codec, codec
from ..schemas import SchemaDecoders, SchemaError, SchemaSettings, schema_codec
from ..schemas.wire import MAGIC

__all__ = ["FORMATS", "SCHEMA_FORMATS", "Undecodable", "decode_auto", "output_codec"]

SCHEMA_FORMATS = ("avro", "protobuf", "jsonschema")
FORMATS = ("auto", "json", "str", "raw", "int", *SCHEMA_FORMATS)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Bytes a format could not decode, and why."""

    data: bytes
    error: str


def decode_auto(data: bytes) -> Any:
    """JSON if it parses, else text if it is valid UTF-8, else the bytes themselves."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _auto_schemas(decoders: SchemaDecoders) -> Callable[[bytes], Any]:
    """``auto`` that also recognises the Confluent wire format (magic byte 0).

    Never raises: a framed payload whose schema cannot be had (the registry is down) or
    that does not decode with it is :class:`Undecodable`, naming the schema id.
    """
    framed = decoders.auto

    def decode(data: bytes) -> Any:
        if data and data[0] == MAGIC:
            try:
                found = framed(data)
            except SchemaError as exc:
                return Undecodable(data, str(exc))
            except Exception as exc:  # any other failure: still written, never dropped
                return Undecodable(data, f"{type(exc).__name__}: {exc}")
            if found is not None:
                return found
        return decode_auto(data)

    return decode


def _tolerant(name: str, decode: Callable[[bytes], Any]) -> Codec:
    def safe(data: bytes) -> Any:
        try:
            return decode(data)
        except Exception as exc:  # orjson's, SchemaError, a registry's: written, never dropped
            return Undecodable(data, f"not {name}: {exc}")

    return Codec(f"{name}?", safe)


_INT64 = range(-(2**63), 2**63)


def _int64(data: bytes) -> int:
    number: int = codec("int").decode_bytes(data)
    if number not in _INT64:  # JSON writers cannot write it: keep the digits as text
        raise ValueError("outside the 64-bit range")
    return number


_CODECS = {
    "raw": codec("raw"),
    **{name: _tolerant(name, codec(name).decode_bytes) for name in ("json", "str")},
    "int": _tolerant("int", _int64),
}


def output_codec(name: str, schemas: SchemaSettings | None = None, *, key: bool = False) -> Codec:
    """The never-raising codec for a ``--key-format``/``--value-format`` name.

    ``schemas`` says where schemas come from (the key and value of one run share it, so
    each schema is fetched once).  Raises ValueError for an unknown name or a schema
    format with no schema source, MissingExtraError if its libraries are missing.
    """
    settings = schemas if schemas is not None else SchemaSettings()
    if name == "auto":
        settings.check("auto")
        return Codec("auto", _auto_schemas(settings.decoders()))
    if name in SCHEMA_FORMATS:
        if key and name != "jsonschema" and settings.registry is None:
            raise ValueError(f"--key-format {name} needs --registry URL")
        settings.check(name)
        return _tolerant(name, schema_codec(name, settings, key=key).decode_bytes)
    try:
        return _CODECS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r} (use {', '.join(FORMATS)})") from None
