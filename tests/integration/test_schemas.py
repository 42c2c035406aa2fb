"""Avro, Protobuf and JSON Schema values written by confluent-kafka's serializers,
read back by ``consume``, the tail session and ``peek`` against the real broker.

No Schema Registry server can be installed on these machines: the registry here is a
small HTTP server in the test process (``tests/schema_registry.py``) implementing the
registry's documented endpoints that the serializers and kconsume call (registering a
schema under a subject, ``GET /schemas/ids/{id}``, ``GET /subjects/{subject}/versions/
{version}``).  Each format has two versions of one subject in one topic.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
from confluent_kafka import Producer

from kconsume.broker import EmbeddedBroker, free_port
from kconsume.consume import ConsumeOptions
from kconsume.engine import StartAt
from kconsume.schemas import RegistrySettings, SchemaSettings, SchemaValue
from kconsume.tail import TailSession
from kconsume.tail.lines import schema_text
from tests import schema_data as d
from tests.helpers import wait_for
from tests.integration.conftest import group_committed
from tests.integration.real_topics import create_topic
from tests.integration.test_groups_cli import set_committed
from tests.schema_registry import TestRegistry, running_registry

pytestmark = pytest.mark.broker

FAST_GROUP = ("-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300")
Record = tuple[bytes | None, bytes | None]


def kconsume(
    broker: EmbeddedBroker, command: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    extra = FAST_GROUP if "-g" in args else ()
    return subprocess.run(
        [sys.executable, "-m", "kconsume", command, "-b", broker.bootstrap, *args, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def write(broker: EmbeddedBroker, topic: str, records: Sequence[Record]) -> None:
    """Produce ``records`` to partition 0 of a new one-partition topic, in order."""
    create_topic(broker.bootstrap, topic, 1)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for key, value in records:
        producer.produce(topic, value, key, partition=0)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def registry() -> Iterator[TestRegistry]:
    with running_registry() as running:
        yield running


@pytest.fixture(scope="module")
def avro_topic(broker: EmbeddedBroker, registry: TestRegistry) -> str:
    """Orders 0-2 with Avro v1, 3-5 with v2 (logical types), then a tombstone; Avro keys."""
    topic = "schemas-avro"
    key = d.serializer(registry.url, topic, "avro-key", key=True)
    v1 = d.serializer(registry.url, topic, "avro1")
    v2 = d.serializer(registry.url, topic, "avro2")
    records: list[Record] = [(key(f"k-{i}"), v1(d.avro_v1(i))) for i in range(3)]
    records += [(key(f"k-{i}"), v2(d.avro_v2(i))) for i in range(3, 6)]
    records.append((key("k-6"), None))
    write(broker, topic, records)
    return topic


AVRO_SHOWN = [d.avro_v1(i) for i in range(3)] + [d.avro_v2_shown(i) for i in range(3, 6)] + [None]


def test_avro_with_a_registry(
    broker: EmbeddedBroker, registry: TestRegistry, avro_topic: str
) -> None:
    ids = registry.subjects[f"{avro_topic}-value"]
    assert len(ids) == 2  # two versions of one subject in one topic
    before = registry.requests.copy()
    docs = lines(
        kconsume(
            broker, "consume", avro_topic, "-o", "beginning", "-e", "--registry", registry.url,
            "--key-format", "avro", "--value-format", "avro",
        )
    )  # fmt: skip
    assert [doc["value"] for doc in docs] == AVRO_SHOWN
    assert [doc["key"] for doc in docs] == [f"k-{i}" for i in range(7)]
    assert [doc.get("value_schema_id") for doc in docs] == [ids[0]] * 3 + [ids[1]] * 3 + [None]
    assert {doc.get("value_subject") for doc in docs[:6]} == {f"{avro_topic}-value"}
    assert {doc["key_subject"] for doc in docs} == {f"{avro_topic}-key"}
    for schema_id in (*ids, registry.subjects[f"{avro_topic}-key"][0]):
        fetched = registry.requests[f"GET /schemas/ids/{schema_id}"]
        assert fetched - before[f"GET /schemas/ids/{schema_id}"] == 1  # once per run

    # auto recognises the wire format; --where and templates see plain values
    docs = lines(
        kconsume(
            broker, "consume", avro_topic, "-o", "beginning", "-e", "-r", registry.url,
            "--where", "value is not None and value['amount'] >= 3000",
        )
    )  # fmt: skip
    assert [doc["value"] for doc in docs] == AVRO_SHOWN[3:6]
    shown = kconsume(
        broker, "consume", avro_topic, "-o", "beginning", "-e", "-r", registry.url,
        "-f", "{offset} {key} {value}", "-X", "schema.registry.timeout.ms=3000",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == '0 k-0 {"id":"o-0","amount":0,"tags":["a","0"]}'


def test_auto_without_a_registry_shows_the_schema_id(
    broker: EmbeddedBroker, registry: TestRegistry, avro_topic: str
) -> None:
    docs = lines(kconsume(broker, "consume", avro_topic, "-o", "beginning", "-e", "-c", "1"))
    produced = d.serializer(registry.url, avro_topic, "avro1")(d.avro_v1(0))
    assert base64.b64decode(docs[0]["value"]) == produced  # the bytes, untouched
    assert docs[0]["value_schema_id"] == registry.subjects[f"{avro_topic}-value"][0]
    assert "--registry" in docs[0]["value_note"] and "value_error" not in docs[0]


def test_avro_with_a_local_schema(
    broker: EmbeddedBroker, registry: TestRegistry, tmp_path: Path
) -> None:
    """--schema FILE.avsc decodes framed records (their id shown) and bare Avro alike."""
    topic = "schemas-avro-local"
    framed = d.serializer(registry.url, topic, "avro1")
    bare = io.BytesIO()
    fastavro.schemaless_writer(bare, fastavro.parse_schema(d.AVRO_V1), d.avro_v1(9))
    write(broker, topic, [(None, framed(d.avro_v1(0))), (None, bare.getvalue())])
    avsc = tmp_path / "order.avsc"
    avsc.write_bytes(orjson.dumps(d.AVRO_V1))
    docs = lines(kconsume(broker, "consume", topic, "-o", "beginning", "-e", "--schema", str(avsc)))
    assert [doc["value"] for doc in docs] == [d.avro_v1(0), d.avro_v1(9)]
    assert docs[0]["value_schema_id"] == registry.subjects[f"{topic}-value"][0]
    assert "value_schema_id" not in docs[1]


def test_protobuf_with_a_registry_and_with_a_descriptor_set(
    broker: EmbeddedBroker, registry: TestRegistry, tmp_path: Path
) -> None:
    topic = "schemas-protobuf"
    v1, v2 = d.proto_classes(1), d.proto_classes(2)
    order1 = d.serializer(registry.url, topic, "proto1")
    records: list[Record] = [(None, order1(d.proto_order(v1, i, 1))) for i in range(2)]
    refund = v1["Refund"](order_id="o-1")
    records.append((None, d.serializer(registry.url, topic, "refund")(refund)))  # index [1]
    order2 = d.serializer(registry.url, topic, "proto2")
    records += [(None, order2(d.proto_order(v2, i, 2))) for i in range(2, 4)]
    write(broker, topic, records)
    expected = [d.proto_order_shown(i, 1) for i in range(2)] + [{"order_id": "o-1"}]
    expected += [d.proto_order_shown(i, 2) for i in range(2, 4)]
    assert len(registry.subjects[f"{topic}-value"]) == 2
    assert "kctest/common.proto" in registry.subjects  # a reference, fetched by version
    for value_format in ("protobuf", "auto"):
        docs = lines(
            kconsume(
                broker, "consume", topic, "-o", "beginning", "-e", "--registry", registry.url,
                "--value-format", value_format,
            )
        )  # fmt: skip
        assert [doc["value"] for doc in docs] == expected
        assert {doc["value_subject"] for doc in docs} == {f"{topic}-value"}

    # without a registry: a descriptor set, framed records and a bare one
    local = "schemas-protobuf-local"
    write(
        broker,
        local,
        [(None, records[0][1]), (None, d.proto_order(v1, 7, 1).SerializeToString())],
    )
    descriptors = tmp_path / "order.pb"
    descriptors.write_bytes(d.descriptor_set(1))
    docs = lines(
        kconsume(
            broker, "consume", local, "-o", "beginning", "-e",
            "--proto-descriptor", str(descriptors), "--proto-message", "kctest.Order",
        )
    )  # fmt: skip
    assert [doc["value"] for doc in docs] == [d.proto_order_shown(0, 1), d.proto_order_shown(7, 1)]


def test_json_schema_with_a_registry(broker: EmbeddedBroker, registry: TestRegistry) -> None:
    topic = "schemas-json"
    v1 = d.serializer(registry.url, topic, "json1")
    v2 = d.serializer(registry.url, topic, "json2")
    write(broker, topic, [(None, v1(d.json_v1(0))), (None, v2(d.json_v2(1)))])
    ids = registry.subjects[f"{topic}-value"]
    for value_format in ("jsonschema", "auto"):
        docs = lines(
            kconsume(
                broker, "consume", topic, "-o", "beginning", "-e", "-r", registry.url,
                "--value-format", value_format,
            )
        )  # fmt: skip
        assert [doc["value"] for doc in docs] == [d.json_v1(0), d.json_v2(1)]
        assert [doc["value_schema_id"] for doc in docs] == ids


def test_unknown_ids_corrupt_payloads_and_a_down_registry_are_counted_not_lost(
    broker: EmbeddedBroker, registry: TestRegistry
) -> None:
    topic = "schemas-errors"
    v1 = d.serializer(registry.url, topic, "avro1")
    good = v1(d.avro_v1(1))
    schema_id = good[1:5]
    unknown = b"\x00" + (9999).to_bytes(4, "big") + good[5:]
    corrupt = b"\x00" + schema_id + b"\xff\xff\xff"
    write(broker, topic, [(None, good), (None, unknown), (None, corrupt), (None, good)])
    group = f"g-{topic}"
    result = kconsume(
        broker, "consume", topic, "-g", group, "-o", "beginning", "-e",
        "--registry", registry.url, "--value-format", "avro",
    )  # fmt: skip
    docs = lines(result)  # exit 0: decode errors are counted, never a crash
    assert [doc["offset"] for doc in docs] == [0, 1, 2, 3]  # every record written
    assert docs[0]["value"] == docs[3]["value"] == d.avro_v1(1)
    assert "schema id 9999" in docs[1]["value_error"] and "404" in docs[1]["value_error"]
    assert base64.b64decode(docs[1]["value"]) == unknown  # the bytes, for another try
    assert "corrupt Avro payload" in docs[2]["value_error"]
    assert "schema id 9999" in result.stderr and "corrupt Avro payload" in result.stderr
    assert _committed(broker, group, topic) == {0: 4}  # nothing lost, nothing held back

    dead = f"http://127.0.0.1:{free_port()}"
    result = kconsume(
        broker, "consume", topic, "-o", "beginning", "-e", "--registry", dead,
        "--value-format", "avro", "--stats",
    )  # fmt: skip
    docs = lines(result)
    assert len(docs) == 4
    assert all("unreachable" in doc["value_error"] for doc in docs)
    assert f"schema id {int.from_bytes(schema_id, 'big')}" in docs[0]["value_error"]
    assert "decode errors 4" in result.stderr


def _committed(broker: EmbeddedBroker, group: str, topic: str) -> dict[int, int | None]:
    import asyncio

    return asyncio.run(group_committed(broker, group, topic))


def test_a_missing_extra_is_a_clear_usage_error(broker: EmbeddedBroker) -> None:
    code = (
        "import sys; sys.modules['fastavro'] = None; sys.modules['google.protobuf'] = None\n"
        "from kconsume.cli import main; sys.argv[0] = 'kconsume'; main()"
    )
    for args in (["--value-format", "avro", "-r", "http://localhost:1"], ["-r", "http://x:1"]):
        result = subprocess.run(
            [sys.executable, "-c", code, "consume", "-b", broker.bootstrap, "t", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "pip install 'kconsume[schemas]'" in result.stderr


async def test_the_tail_session_shows_decoded_values_and_their_schema(
    broker: EmbeddedBroker, registry: TestRegistry, avro_topic: str
) -> None:
    options = ConsumeOptions(
        [avro_topic],
        broker=broker.url,
        offset=StartAt("beginning"),
        key_format="avro",
        value_format="avro",
        schemas=SchemaSettings(RegistrySettings(registry.url)),
    )
    session = TailSession.from_options(options, buffer_size=100)
    async with session:
        await wait_for(lambda: session.buffer.received == 7, 20, "the 7 records")
        decoded = [session.buffer.decode(e) for e in session.buffer.view]
    assert [e.value.value if e.value is not None else None for e in decoded] == AVRO_SHOWN
    first = decoded[0].value
    assert isinstance(first, SchemaValue)
    assert schema_text(first) == f"id {first.schema_id}, subject {avro_topic}-value (AVRO)"
    session.set_filter("value['amount'] == 4000")  # the dashboard's filter sees plain values
    assert [session.buffer.decode(e).value.value for e in session.buffer.view] == [
        d.avro_v2_shown(4)
    ]


async def test_peek_shows_decoded_values(
    broker: EmbeddedBroker, registry: TestRegistry, avro_topic: str
) -> None:
    group = f"peek-{avro_topic}"
    await set_committed(broker, group, avro_topic, {0: 3})
    result = kconsume(
        broker, "peek", group, avro_topic, "-B", "1", "-A", "1", "-f", "jsonl",
        "--registry", registry.url, "--key-format", "avro",
    )  # fmt: skip
    docs = lines(result)
    assert [(doc["peek"], doc["value"]) for doc in docs] == [
        ("before", AVRO_SHOWN[2]), ("next", AVRO_SHOWN[3]), ("after", AVRO_SHOWN[4])
    ]  # fmt: skip
    assert docs[1]["key"] == "k-3" and docs[1]["value_subject"] == f"{avro_topic}-value"
