"""The Avro rows of ``make bench``: ``consume --value-format avro`` with a registry,
against aiokafka's getmany loop decoding the same records with fastavro directly.

The topic holds the bench's orders as Avro in the Confluent wire format (magic byte,
schema id, payload), schema registered in the in-process test registry
(``tests/schema_registry.py``: no registry server can be installed here).  Both rows
write the same JSON lines to /dev/null, so what is compared is what kconsume's
decoding costs over the library it uses.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastavro
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kconsume.admin import create_topics
from kconsume.consume import ConsumeOptions, run_consume
from kconsume.engine import StartAt
from kconsume.schemas import RegistrySettings, SchemaSettings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.schema_registry import running_registry

TOPIC = "bench-orders-avro"
SCHEMA = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "order", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "total", "type": "double"},
        {
            "name": "items",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Item",
                    "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}],
                },
            },
        },
    ],
}
PARSED = fastavro.parse_schema(SCHEMA)


class AvroSetup:
    """Where the Avro rows read: filled by :func:`avro_topic` before the rounds."""

    registry_url = ""
    schema_id = 0


def _record(schema_id: int, i: int) -> bytes:
    out = io.BytesIO()
    out.write(b"\x00" + schema_id.to_bytes(4, "big"))
    value = {
        "order": i,
        "customer": f"c{i % 97}",
        "total": 12.5,
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
    }
    fastavro.schemaless_writer(out, PARSED, value)
    return out.getvalue()


@contextmanager
def avro_registry() -> Iterator[None]:
    """A registry with the schema, and the Avro topic, for as long as the bench runs."""
    with running_registry() as registry:
        schema_id, _ = registry.register(
            f"{TOPIC}-value", {"schema": orjson.dumps(SCHEMA).decode()}
        )
        AvroSetup.registry_url, AvroSetup.schema_id = registry.url, schema_id
        yield


async def fill(broker: Any, messages: int, partitions: int) -> None:
    """Write ``messages`` Avro orders round-robin over the partitions."""
    await create_topics(broker.url, {TOPIC: partitions})
    client = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20)
    await client.start()
    try:
        sent = [
            await client.send(TOPIC, _record(AvroSetup.schema_id, i), partition=i % partitions)
            for i in range(messages)
        ]
        await asyncio.gather(*sent)
    finally:
        await client.stop()


async def raw_avro_jsonl(setup: Any) -> float:
    """aiokafka's getmany, fastavro's schemaless_reader, orjson lines: the baseline."""
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=setup.broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(TOPIC, p) for p in range(setup.partitions)])
        read, dumps, newline = fastavro.schemaless_reader, orjson.dumps, orjson.OPT_APPEND_NEWLINE
        count = 0
        with open(os.devnull, "wb") as out:
            while count < setup.messages:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    lines = [
                        dumps(
                            {
                                "topic": r.topic,
                                "partition": r.partition,
                                "offset": r.offset,
                                "timestamp": r.timestamp,
                                "key": r.key,
                                "value": read(io.BytesIO(r.value[5:]), PARSED, None),
                                "headers": {},
                            },
                            option=newline,
                        )
                        for r in records
                    ]
                    out.write(b"".join(lines))
                    out.flush()
                    count += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def consume_avro(setup: Any) -> float:
    """``kconsume consume TOPIC -o beginning -e --value-format avro -r URL > /dev/null``."""
    options = ConsumeOptions(
        [TOPIC],
        broker=setup.broker.url,
        offset=StartAt("beginning"),
        exit_at_end=True,
        output_format="jsonl",
        value_format="avro",
        schemas=SchemaSettings(RegistrySettings(AvroSetup.registry_url)),
    )
    errors = io.StringIO()
    started = time.perf_counter()
    with open(os.devnull, "wb") as out:
        code = await run_consume(options, out, errors)
    if code or errors.getvalue():
        raise RuntimeError(f"consume exited {code}: {errors.getvalue()}")
    return time.perf_counter() - started


AVRO_BASELINE = "raw getmany + fastavro writing JSON lines"

#: (label, function, the row it is compared with), as bench/run.py's ROWS.
AVRO_ROWS: list[tuple[str, Callable[[Any], Awaitable[float]], str]] = [
    (AVRO_BASELINE, raw_avro_jsonl, AVRO_BASELINE),
    ("consume --value-format avro -r URL", consume_avro, AVRO_BASELINE),
]
