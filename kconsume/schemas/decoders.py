"""The schema decoders of one run: a registry client and one decoder per schema id.

:class:`SchemaDecoders` is what the ``avro``, ``protobuf``, ``jsonschema`` and
``auto`` codecs call for every framed message.  It builds a decoder the first time it
meets a schema id (fetching the schema from the registry, see :mod:`.registry` for
how that stays bounded) and reuses it for every later message with that id.  Without a
registry it decodes with the local schema given (``--schema``, ``--proto-descriptor``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .avro import AvroDecoder, load_avsc
from .errors import SchemaError
from .protobuf import ProtobufDecoder, load_descriptor_set, require_protobuf
from .registry import RegisteredSchema, RegistryError, RegistrySettings, SchemaRegistry
from .values import SchemaValue
from .wire import message_indexes, split_frame

__all__ = ["FORMATS", "SchemaDecoders", "SchemaSettings"]

#: The schema formats, as ``--value-format`` names them.
FORMATS = ("avro", "protobuf", "jsonschema")
_TYPES = {"avro": "AVRO", "protobuf": "PROTOBUF", "jsonschema": "JSON"}
_FORMAT_OF = {t: f for f, t in _TYPES.items()}

#: A built decoder: (payload after the 5-byte header) -> value.
_Decode = Callable[[memoryview], Any]


@dataclass(slots=True)
class SchemaSettings:
    """Where schemas come from: a registry, and/or local schemas for the value."""

    registry: RegistrySettings | None = None
    avro_schema: Path | None = None
    """``--schema``: an ``.avsc`` file for values, framed or bare."""
    proto_descriptor: Path | None = None
    """``--proto-descriptor``: a ``FileDescriptorSet`` file."""
    proto_message: str | None = None
    """``--proto-message``: the fully qualified message name in it."""
    _decoders: SchemaDecoders | None = field(default=None, repr=False, compare=False)

    def decoders(self) -> SchemaDecoders:
        """The one :class:`SchemaDecoders` of these settings (key and value share it)."""
        if self._decoders is None:
            self._decoders = SchemaDecoders(self)
        return self._decoders

    def check(self, fmt: str) -> None:
        """Fail now on what would fail every message: a missing library, a bad local
        schema, a format without any schema source.  Raises MissingExtraError or ValueError.
        """
        decoders = self.decoders()
        if fmt == "avro":
            decoders.local_avro()
            if self.registry is None and self.avro_schema is None:
                raise ValueError("avro needs --registry URL or --schema FILE.avsc")
            if self.avro_schema is None:
                AvroDecoder('"string"')  # the library is there
        elif fmt == "protobuf":
            if (self.proto_descriptor is None) != (self.proto_message is None):
                raise ValueError("--proto-descriptor and --proto-message go together")
            decoders.local_protobuf()
            if self.registry is None and self.proto_descriptor is None:
                raise ValueError(
                    "protobuf needs --registry URL or --proto-descriptor FILE --proto-message NAME"
                )
            ProtobufDecoder(())  # the library is there
        elif fmt == "auto" and self.registry is not None:
            AvroDecoder('"string"')
            ProtobufDecoder(())


class SchemaDecoders:
    """Decoders by schema id, built once.  Callers: the schema codecs, per message."""

    def __init__(self, settings: SchemaSettings) -> None:
        self.settings = settings
        self.registry = SchemaRegistry(settings.registry) if settings.registry else None
        self._by_id: dict[tuple[str, int], tuple[_Decode, RegisteredSchema]] = {}
        #: By format, by 5-byte header (magic byte and schema id): the whole decode.
        self._fast: dict[str, dict[bytes, Callable[[bytes], SchemaValue]]] = {
            fmt: {} for fmt in (*FORMATS, "auto")
        }
        #: The formats whose values a local schema decodes (the fast path is for keys).
        self._local_formats = frozenset(
            fmt
            for fmt, path in (
                ("avro", settings.avro_schema),
                ("protobuf", settings.proto_descriptor),
            )
            if path is not None
        )
        self._avro: AvroDecoder | None = None
        self._protobuf: Any = None

    # -- local schemas (no registry) ------------------------------------------------

    def local_avro(self) -> AvroDecoder | None:
        """The ``--schema`` decoder (None without one).  Raises ValueError for a bad file."""
        path = self.settings.avro_schema
        if path is None:
            return None
        if self._avro is None:
            try:
                self._avro = AvroDecoder(load_avsc(path))
            except SchemaError as exc:
                raise ValueError(f"--schema {path}: {exc}") from None
        return self._avro

    def local_protobuf(self) -> Any:
        """(decoder, message class) of ``--proto-descriptor``/``--proto-message``, or None."""
        path, name = self.settings.proto_descriptor, self.settings.proto_message
        if path is None or name is None:
            return None
        if self._protobuf is None:
            try:
                decoder = ProtobufDecoder(load_descriptor_set(path))
                self._protobuf = decoder, decoder.message_type(name=name)
            except SchemaError as exc:
                raise ValueError(f"--proto-descriptor {path}: {exc}") from None
        return self._protobuf

    # -- per message ----------------------------------------------------------------

    def decode(self, fmt: str, data: bytes, *, key: bool = False) -> SchemaValue:
        """``data`` decoded as ``fmt`` (avro, protobuf, jsonschema).  Raises SchemaError.

        Local schemas (``--schema``, ``--proto-*``) apply to values only.
        """
        fast = self._fast[fmt].get(data[:5])  # the common case: a schema id seen before
        if fast is not None and (key or fmt not in self._local_formats):
            return fast(data)
        frame = split_frame(data)
        if not key:
            local = self._local(fmt, data, frame)
            if local is not None:
                return local
        if frame is None:
            raise SchemaError(
                f"not in the Confluent wire format (no magic byte 0 and schema id)"
                f"{'' if key else '; for bare ' + fmt + ' pass a local schema'}"
            )
        schema_id, payload = frame
        if self.registry is None:
            if fmt == "jsonschema":
                return SchemaValue(_json(payload), schema_id, None, "JSON")
            raise SchemaError(f"schema id {schema_id}: no --registry to fetch it from")
        fast = self._fast[fmt][bytes(data[:5])] = _whole(*self._built(schema_id, fmt))
        return fast(data)

    def auto(self, data: bytes) -> SchemaValue | None:
        """A framed payload decoded with the registry's schema, or shown as framed (its
        bytes and schema id) without a registry; None when ``data`` is not framed or the
        registry has no such id (it was not framed after all).  Raises SchemaError."""
        fast = self._fast["auto"].get(data[:5])
        if fast is not None:
            return fast(data)
        frame = split_frame(data)
        if frame is None:
            return None
        schema_id, _ = frame
        if self.registry is None:
            return SchemaValue(data, schema_id, decoded=False)
        try:
            decode, registered = self._built(schema_id, None)
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        fast = self._fast["auto"][bytes(data[:5])] = _whole(decode, registered)
        return fast(data)

    def _local(
        self, fmt: str, data: bytes, frame: tuple[int, memoryview] | None
    ) -> SchemaValue | None:
        if fmt == "avro":
            avro = self.local_avro()
            if avro is None:
                return None
            if frame is not None:  # framed, or bare Avro that starts with a 0 byte?
                try:
                    return SchemaValue(avro.decode(frame[1], exact=True), frame[0], None, "AVRO")
                except SchemaError:
                    pass
            return SchemaValue(avro.decode(data, exact=True), None, None, "AVRO")
        if fmt == "protobuf":
            local = self.local_protobuf()
            if local is None:
                return None
            decoder, message_type = local
            if frame is None:  # a Protobuf message never starts with byte 0 (field 0)
                return SchemaValue(decoder.decode(message_type, data), None, None, "PROTOBUF")
            _, body = message_indexes(frame[1])
            return SchemaValue(decoder.decode(message_type, body), frame[0], None, "PROTOBUF")
        return None

    def _built(self, schema_id: int, fmt: str | None) -> tuple[_Decode, RegisteredSchema]:
        """The decoder for ``schema_id`` (fetched and built the first time)."""
        cache_key = (fmt or "auto", schema_id)
        found = self._by_id.get(cache_key)
        if found is not None:
            return found
        registry = self.registry
        assert registry is not None
        registered = registry.schema(schema_id, serialized=fmt == "protobuf")
        actual = _FORMAT_OF.get(registered.schema_type.upper())
        if actual is None:
            raise SchemaError(
                f"schema id {schema_id}: unknown schema type {registered.schema_type}"
            )
        if fmt is not None and actual != fmt:
            raise SchemaError(
                f"schema id {schema_id} ({registered.subject or 'no subject'}) is "
                f"{registered.schema_type}, not {_TYPES[fmt]}: use --value-format {actual} "
                "(or auto)"
            )
        if actual == "protobuf" and fmt is None:
            registered = registry.schema(schema_id, serialized=True)
        try:
            decode = self._build(actual, registered)
        except SchemaError as exc:  # a reference the registry did not give (remembered there)
            raise SchemaError(f"schema id {schema_id}: {exc}") from None
        except Exception as exc:  # a schema that does not build: it never will, remember it
            error = SchemaError(f"schema id {schema_id}: unusable schema: {exc}")

            def unusable(payload: memoryview) -> Any:
                raise error

            self._by_id[cache_key] = unusable, registered
            raise error from None
        self._by_id[cache_key] = decode, registered
        return decode, registered

    def _build(self, fmt: str, registered: RegisteredSchema) -> _Decode:
        if fmt == "jsonschema":
            return _json
        if fmt == "avro":
            named = {
                name: orjson.loads(s.schema) for name, s in self._references(registered, False)
            }
            avro = AvroDecoder(registered.schema, named)
            return avro.decode
        files = [_file_proto(registered.schema, "main.proto")]
        files += [_file_proto(s.schema, name) for name, s in self._references(registered, True)]
        decoder = ProtobufDecoder(files, files[0].name)

        def decode_protobuf(payload: memoryview) -> Any:
            indexes, body = message_indexes(payload)
            return decoder.decode(decoder.message_type(indexes), body)

        return decode_protobuf

    def _references(
        self, registered: RegisteredSchema, serialized: bool, seen: set[str] | None = None
    ) -> list[tuple[str, RegisteredSchema]]:
        """Every schema ``registered`` imports, transitively, dependencies first."""
        seen = set() if seen is None else seen
        out: list[tuple[str, RegisteredSchema]] = []
        registry = self.registry
        assert registry is not None
        for name, subject, version in registered.references:
            if name in seen:
                continue
            seen.add(name)
            try:
                referenced = registry.version(subject, version, serialized=serialized)
            except RegistryError as exc:
                raise SchemaError(f"reference {name} ({subject} v{version}): {exc}") from None
            out += self._references(referenced, serialized, seen)
            out.append((name, referenced))
        return out


def _whole(decode: _Decode, registered: RegisteredSchema) -> Callable[[bytes], SchemaValue]:
    """Decode a framed message whose header is known: no frame parsing, no lookups."""
    schema_id, subject, schema_type = registered.id, registered.subject, registered.schema_type

    def decode_framed(data: bytes) -> SchemaValue:
        try:
            value = decode(memoryview(data)[5:])
        except SchemaError as exc:
            raise SchemaError(f"schema id {schema_id} ({subject or 'no subject'}): {exc}") from None
        return SchemaValue(value, schema_id, subject, schema_type)

    return decode_framed


def _json(payload: memoryview) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"corrupt JSON payload: {exc}") from None


def _file_proto(schema: str, name: str) -> Any:
    """A FileDescriptorProto from the registry's serialized (base64) form."""
    require_protobuf()
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(base64.b64decode(schema, validate=True))
    except (binascii.Error, ValueError, DecodeError):
        raise SchemaError(
            "the registry sent the Protobuf schema as .proto text, not serialized "
            "(it ignored ?format=serialized); kconsume cannot compile .proto text"
        ) from None
    if not proto.name:
        proto.name = name
    return proto
