"""Schemas, values and confluent-kafka serializers for the schema tests.

Each format has two versions of one subject (schema evolution), and values whose
decoded form is known exactly: what ``consume`` must show for them.  The Protobuf
message classes are built from hand-written ``FileDescriptorProto``s (no ``protoc`` on
these machines): ``order.proto`` imports ``common.proto`` (a registry reference) and
``google/protobuf/timestamp.proto`` (a well-known type, never registered).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

# -- Avro ------------------------------------------------------------------------------

AVRO_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "kctest",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "long"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}
AVRO_V2 = {
    **AVRO_V1,
    "fields": [
        *AVRO_V1["fields"],
        {
            "name": "at",
            "type": {"type": "long", "logicalType": "timestamp-millis"},
            "default": 0,
        },
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
            "default": "\u0000",
        },
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}, "default": ""},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
AT = datetime.datetime(2026, 11, 27, 14, 0, 0, 123000, tzinfo=datetime.UTC)
REF = uuid.UUID("12345678-1234-5678-1234-567812345678")


def avro_v1(i: int) -> dict[str, Any]:
    return {"id": f"o-{i}", "amount": i * 1000, "tags": ["a", str(i)]}


def avro_v2(i: int) -> dict[str, Any]:
    return {
        **avro_v1(i),
        "at": AT,
        "price": decimal.Decimal(f"{i}.25"),
        "ref": str(REF),
        "note": None if i % 2 else f"note {i}",
    }


def avro_v2_shown(i: int) -> dict[str, Any]:
    """What kconsume shows for ``avro_v2(i)``: logical types as readable text."""
    return {**avro_v2(i), "at": "2026-11-27T14:00:00.123000Z", "price": f"{i}.25", "ref": str(REF)}


# -- Protobuf ------------------------------------------------------------------------------


def _field(
    name: str, number: int, kind: int, type_name: str = "", repeated: bool = False
) -> descriptor_pb2.FieldDescriptorProto:
    f = descriptor_pb2.FieldDescriptorProto
    made = f(
        name=name,
        number=number,
        type=kind,  # type: ignore[arg-type]
        label=f.LABEL_REPEATED if repeated else f.LABEL_OPTIONAL,
    )
    if type_name:
        made.type_name = type_name
    return made


_F = descriptor_pb2.FieldDescriptorProto


def proto_files(version: int) -> list[descriptor_pb2.FileDescriptorProto]:
    """common.proto and order.proto (version 2 adds ``Order.note``)."""
    common = descriptor_pb2.FileDescriptorProto(
        name="kctest/common.proto", package="kctest", syntax="proto3"
    )
    common.message_type.add(
        name="Money",
        field=[_field("currency", 1, _F.TYPE_STRING), _field("units", 2, _F.TYPE_INT64)],
    )
    order = descriptor_pb2.FileDescriptorProto(
        name="kctest/order.proto",
        package="kctest",
        syntax="proto3",
        dependency=["kctest/common.proto", "google/protobuf/timestamp.proto"],
    )
    fields = [
        _field("id", 1, _F.TYPE_STRING),
        _field("total", 2, _F.TYPE_MESSAGE, ".kctest.Money"),
        _field("at", 3, _F.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
        _field("lines", 4, _F.TYPE_INT32, repeated=True),
        _field("big", 5, _F.TYPE_INT64),
    ]
    if version == 2:
        fields.append(_field("note", 6, _F.TYPE_STRING))
    order.message_type.add(name="Order", field=fields)
    order.message_type.add(name="Refund", field=[_field("order_id", 1, _F.TYPE_STRING)])
    return [common, order]


@functools.cache
def proto_classes(version: int) -> dict[str, Any]:
    """Message classes of a version, by name, in a pool of their own."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    for file in proto_files(version):
        pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"kctest.{name}"))
        for name in ("Order", "Refund", "Money")
    }


def descriptor_set(version: int) -> bytes:
    """A FileDescriptorSet with its imports, as ``protoc --include_imports`` writes it."""
    out = descriptor_pb2.FileDescriptorSet()
    timestamp = out.file.add()
    timestamp.ParseFromString(timestamp_pb2.DESCRIPTOR.serialized_pb)
    out.file.extend(proto_files(version))
    return out.SerializeToString()


def proto_order(classes: dict[str, Any], i: int, version: int) -> Any:
    order = classes["Order"](id=f"o-{i}", lines=[1, i], big=2**40 + i)
    order.total.currency = "EUR"
    order.total.units = i
    order.at.FromDatetime(AT.replace(tzinfo=None))
    if version == 2:
        order.note = f"v2 {i}"
    return order


def proto_order_shown(i: int, version: int) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": f"o-{i}",
        "total": {"currency": "EUR", "units": i},
        "at": "2026-11-27T14:00:00.123Z",
        "lines": [1, i],
        "big": 2**40 + i,
    }
    if version == 2:
        shown["note"] = f"v2 {i}"
    return shown


# -- JSON Schema ------------------------------------------------------------------------------

JSON_V1 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {"id": {"type": "string"}, "amount": {"type": "integer"}},
    "required": ["id"],
}
JSON_V2 = {
    **JSON_V1,
    "properties": {**JSON_V1["properties"], "note": {"type": "string"}},
}


def json_v1(i: int) -> dict[str, Any]:
    return {"id": f"o-{i}", "amount": i}


def json_v2(i: int) -> dict[str, Any]:
    return {**json_v1(i), "note": f"v2 {i}"}


# -- serializers ------------------------------------------------------------------------------

Serialize = Callable[[Any], bytes]


def serializer(registry_url: str, topic: str, kind: str, *, key: bool = False) -> Serialize:
    """A confluent-kafka serializer for ``kind`` (avro1, avro2, avro-key, proto1, proto2,
    refund, json1, json2), registering under ``topic``'s subject as it goes."""
    client = SchemaRegistryClient({"url": registry_url})
    conf = {"auto.register.schemas": True}
    made: Any
    if kind in ("avro1", "avro2"):
        schema = AVRO_V1 if kind == "avro1" else AVRO_V2
        made = AvroSerializer(client, orjson.dumps(schema).decode(), conf=conf)
    elif kind == "avro-key":
        made = AvroSerializer(client, '"string"', conf=conf)
    elif kind in ("proto1", "proto2", "refund"):
        classes = proto_classes(2 if kind == "proto2" else 1)
        name = "Refund" if kind == "refund" else "Order"
        made = ProtobufSerializer(classes[name], client, conf=conf)
    elif kind in ("json1", "json2"):
        schema = JSON_V1 if kind == "json1" else JSON_V2
        made = JSONSerializer(orjson.dumps(schema).decode(), client, conf=conf)
    else:
        raise ValueError(kind)
    context = SerializationContext(topic, MessageField.KEY if key else MessageField.VALUE)

    def serialize(value: Any) -> bytes:
        data = made(value, context)
        assert isinstance(data, bytes)
        return data

    return serialize
