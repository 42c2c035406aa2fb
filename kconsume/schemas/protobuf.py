"""Protobuf with the ``protobuf`` library: a descriptor pool built once per schema.

Schemas come as ``FileDescriptorProto``s (the registry's ``?format=serialized``) or as a
``FileDescriptorSet`` file (``protoc --include_imports --descriptor_set_out``).  Messages
become JSON-compatible data by the Protobuf JSON mapping (``MessageToDict``): field names
as in the ``.proto``, well-known types readable (a Timestamp as RFC 3339 text), fields at
their default value included, 64-bit integers as numbers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import MissingExtraError, SchemaError

__all__ = ["ProtobufDecoder", "load_descriptor_set", "require_protobuf"]

#: protobuf's own well-known types, added to every pool on demand.
WELL_KNOWN = (
    "any_pb2", "api_pb2", "duration_pb2", "empty_pb2", "field_mask_pb2",
    "source_context_pb2", "struct_pb2", "timestamp_pb2", "type_pb2", "wrappers_pb2",
)  # fmt: skip


def require_protobuf() -> Any:
    """The protobuf package; MissingExtraError if it is not installed."""
    try:
        import google.protobuf
    except ImportError:
        raise MissingExtraError("protobuf", "protobuf") from None
    return google.protobuf


def load_descriptor_set(path: Path) -> list[Any]:
    """The ``FileDescriptorProto``s of a descriptor set file.  Raises ValueError."""
    require_protobuf()
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    descriptor_set = descriptor_pb2.FileDescriptorSet()
    try:
        descriptor_set.ParseFromString(path.read_bytes())
    except (OSError, DecodeError) as exc:
        raise ValueError(f"--proto-descriptor {path}: not a FileDescriptorSet: {exc}") from None
    if not descriptor_set.file:
        raise ValueError(f"--proto-descriptor {path}: holds no .proto file")
    return list(descriptor_set.file)


def _to_dict() -> Callable[[Any], Any]:
    from google.protobuf.json_format import MessageToDict

    options: dict[str, Any] = {"preserving_proto_field_name": True}
    parameters = inspect.signature(MessageToDict).parameters
    if "always_print_fields_with_no_presence" in parameters:
        options["always_print_fields_with_no_presence"] = True
    if "unquote_int64_if_possible" in parameters:
        options["unquote_int64_if_possible"] = True

    def to_dict(message: Any) -> Any:
        return MessageToDict(message, **options)

    return to_dict


class ProtobufDecoder:
    """Decodes the messages of one set of ``.proto`` files.  Built once per schema id."""

    def __init__(self, files: Iterable[Any], main: str | None = None) -> None:
        """``files``: FileDescriptorProtos, dependencies in any order; ``main``: the name
        of the file whose messages the wire format's message indexes point into."""
        require_protobuf()
        from google.protobuf import descriptor_pool, message_factory

        self._pool = descriptor_pool.DescriptorPool()
        self._classes: dict[Any, Any] = {}
        self._get_class = message_factory.GetMessageClass
        self._to_dict = _to_dict()
        pending = {f.name: f for f in files}
        added: set[str] = set()

        def add(name: str) -> None:
            if name in added:
                return
            proto = pending.get(name)
            if proto is None:
                self._add_well_known(name)
            else:
                for dependency in proto.dependency:
                    add(dependency)
                try:
                    self._pool.Add(proto)
                except Exception as exc:
                    raise SchemaError(f"bad Protobuf schema {name}: {exc}") from None
            added.add(name)

        for name in list(pending):
            add(name)
        self.main = self._pool.FindFileByName(main) if main is not None else None

    def _add_well_known(self, name: str) -> None:
        import importlib

        from google.protobuf import descriptor_pb2

        for module_name in WELL_KNOWN:
            module = importlib.import_module(f"google.protobuf.{module_name}")
            if module.DESCRIPTOR.name == name:
                proto = descriptor_pb2.FileDescriptorProto()
                module.DESCRIPTOR.CopyToProto(proto)
                for dependency in proto.dependency:
                    self._add_well_known(dependency)
                self._pool.Add(proto)
                return
        raise SchemaError(f"Protobuf schema imports {name}, which it was not given")

    def message_type(self, indexes: tuple[int, ...] = (0,), name: str | None = None) -> Any:
        """The message class at ``indexes`` in the main file (or named ``name``)."""
        key = name or indexes
        found = self._classes.get(key)
        if found is not None:
            return found
        try:
            if name is not None:
                descriptor = self._pool.FindMessageTypeByName(name)
            else:
                if self.main is None:
                    raise SchemaError("no main .proto file to find message indexes in")
                descriptor = list(self.main.message_types_by_name.values())[indexes[0]]
                for index in indexes[1:]:
                    descriptor = descriptor.nested_types[index]
        except (KeyError, IndexError):
            what = name or f"message indexes {list(indexes)}"
            raise SchemaError(f"no Protobuf message {what} in the schema") from None
        found = self._get_class(descriptor)
        self._classes[key] = found
        return found

    def decode(self, message_type: Any, payload: bytes | memoryview) -> Any:
        """The message in ``payload`` as JSON-compatible data.  Raises SchemaError."""
        try:
            message = message_type.FromString(bytes(payload))
            return self._to_dict(message)
        except Exception as exc:  # DecodeError, or a well-known type out of range
            raise SchemaError(f"corrupt Protobuf payload: {type(exc).__name__}: {exc}") from None
