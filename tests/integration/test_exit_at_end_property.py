"""``consume -o beginning -e`` over random topic shapes: every record that existed at
start is written, once, in offset order per partition, and the run exits 0.

Shapes: 1-16 partitions, 0-50,000 records, mixed batch sizes and codecs, empty
partitions, and sometimes a producer still writing while the topic is read.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from dataclasses import dataclass

import orjson
import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kconsume.consume import ConsumeOptions, run_consume
from kconsume.engine import StartAt
from tests.brokers import Broker, client_url
from tests.integration.real_topics import create_topic

pytestmark = pytest.mark.broker

_topic_ids = iter(range(1_000_000))


@dataclass(frozen=True)
class Shape:
    partitions: int
    counts: tuple[int, ...]
    """Records per partition (zeros: empty partitions)."""
    batch: int
    """librdkafka's batch.num.messages: from one record a batch to very large ones."""
    compression: str
    live_producer: bool


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    partitions = draw(st.integers(1, 16))
    total = draw(st.sampled_from([0, 1, 7, 500, 5_000, 20_000, 50_000]))
    weights = draw(st.lists(st.integers(0, 5), min_size=partitions, max_size=partitions))
    if sum(weights) == 0:
        weights[0] = 1
    counts = [total * w // sum(weights) for w in weights]
    counts[weights.index(max(weights))] += total - sum(counts)
    return Shape(
        partitions,
        tuple(counts),
        draw(st.sampled_from([1, 100, 10_000])),
        draw(st.sampled_from(["none", "lz4", "zstd", "snappy", "gzip"])),
        draw(st.booleans()),
    )


def produce(broker: Broker, topic: str, shape: Shape) -> None:
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 20,
            "batch.num.messages": shape.batch,
            "compression.type": shape.compression,
        }
    )
    for partition, count in enumerate(shape.counts):
        for i in range(count):
            while True:
                try:
                    producer.produce(topic, value=b"%d:%d" % (partition, i), partition=partition)
                    break
                except BufferError:
                    producer.poll(0.05)
    assert producer.flush(60) == 0


def keep_writing(broker: Broker, topic: str, partitions: int, stop: threading.Event) -> None:
    """Records after the start: a run may write them or not, but never twice."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    i = 0
    while not stop.is_set():
        producer.produce(topic, value=b"late:%d" % i, partition=i % partitions)
        producer.poll(0)
        i += 1
        stop.wait(0.001)
    producer.flush(30)


@settings(
    max_examples=int(os.environ.get("KCONSUME_PROPERTY_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(shape=shapes())
def test_exit_at_end_writes_every_record_that_existed_at_start(
    client: str, broker: Broker, shape: Shape
) -> None:
    topic = f"shape-{next(_topic_ids)}-{os.getpid()}"
    create_topic(broker.bootstrap, topic, shape.partitions)
    produce(broker, topic, shape)
    stop = threading.Event()
    writer = None
    if shape.live_producer:
        writer = threading.Thread(target=keep_writing, args=(broker, topic, shape.partitions, stop))
        writer.start()
    out, err = io.BytesIO(), io.StringIO()
    options = ConsumeOptions(
        [topic],
        broker=client_url(broker, client),
        offset=StartAt("beginning"),
        exit_at_end=True,
        key_format="raw",
        value_format="str",
    )
    try:
        code = asyncio.run(asyncio.wait_for(run_consume(options, out, err), 120))
    finally:
        stop.set()
        if writer is not None:
            writer.join()
    assert code == 0, err.getvalue()
    written: dict[int, list[tuple[int, str]]] = {}
    for line in out.getvalue().splitlines():
        doc = orjson.loads(line)
        written.setdefault(doc["partition"], []).append((doc["offset"], doc["value"]))
    for partition, count in enumerate(shape.counts):
        got = written.get(partition, [])
        offsets = [offset for offset, _ in got]
        assert offsets == sorted(set(offsets)), f"partition {partition}: repeats or disorder"
        # A producer's retries may reorder its batches (a new topic's leader is not ready
        # at once): what existed at start is the first ``count`` offsets, in any order.
        at_start = sorted(value for _, value in got[:count])
        assert at_start == sorted(f"{partition}:{i}" for i in range(count)), (
            f"partition {partition}: {len(got)} written, {count} existed at start"
        )
        assert all(value.startswith("late:") for _, value in got[count:])
