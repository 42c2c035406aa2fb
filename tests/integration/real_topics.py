"""Topics written the way real topics are: by librdkafka (confluent-kafka) and aiokafka.

Each topic remembers exactly what was produced to it, record by record, with the
offsets the broker gave in its delivery reports, so a reading path can be checked
against it: the same (partition, offset, key, value, headers), nothing more, nothing
missing.  Records of aborted transactions are remembered apart: under read_committed
they must never appear.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kconsume.admin import producer as aiokafka_producer

#: CreateTime of record i is BASE_TIME + i, so ``--until`` cuts at a known place.  An hour
#: ago: a broker with time-based retention (Apache Kafka's 7 days) deletes older records.
BASE_TIME = (int(time.time()) - 3600) * 1000

HeaderList = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True, order=True)
class Rec:
    """One record as compared: where it is and exactly what it holds."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: HeaderList


@dataclass(slots=True)
class ProducedTopic:
    """What a producer wrote: the visible records per partition, in offset order."""

    name: str
    partitions: int
    records: dict[int, list[Rec]] = field(default_factory=dict)
    #: Records written in aborted transactions (never to be read under read_committed).
    aborted: list[Rec] = field(default_factory=list)
    #: CreateTime of each record, by (partition, offset).
    timestamps: dict[tuple[int, int], int] = field(default_factory=dict)
    #: True when the broker serves aborted records under read_committed (then they
    #: are in ``records`` too, as a reader gets them).
    aborted_served: bool = False

    def all(self) -> list[Rec]:
        return sorted(r for recs in self.records.values() for r in recs)

    def __len__(self) -> int:
        return sum(len(recs) for recs in self.records.values())


def payload(i: int) -> tuple[bytes | None, bytes | None, HeaderList]:
    """Record i: null keys, tombstones, binary values and headers among JSON ones."""
    key = None if i % 17 == 0 else f"key-{i}".encode()
    if i % 23 == 0:
        value: bytes | None = None
    elif i % 11 == 0:
        value = random.Random(i).randbytes(40) + b"\xff\x00"
    else:
        value = orjson.dumps({"i": i, "amount": i % 1000, "pad": "x" * (i % 60)})
    if key is None and value is None:
        key = b""  # aiokafka's producer refuses a record with neither
    headers: list[tuple[str, bytes | None]] = []
    if i % 3:
        headers.append(("seq", str(i).encode()))
    if i % 5 == 0:
        headers.append(("bin", b"\xff\x00\x01"))
    if i % 29 == 0:
        headers.append(("empty", None))
    return key, value, tuple(headers)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1)])
    for future in futures.values():
        future.result(30)


def produce_librdkafka(
    bootstrap: str,
    name: str,
    count: int,
    *,
    partitions: int,
    used_partitions: int,
    config: Mapping[str, Any],
    transaction_size: int = 0,
    abort_every: int = 3,
) -> ProducedTopic:
    """Write ``count`` records with confluent-kafka in large batches.

    With ``transaction_size``, records go in transactions of that many, and every
    ``abort_every``-th transaction is aborted.
    """
    create_topic(bootstrap, name, partitions)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.num.messages": 10_000,
            "batch.size": 1_000_000,
            **config,
        }
    )
    topic = ProducedTopic(name, partitions)
    delivered: list[tuple[int, int, int]] = []  # (i, partition, offset)
    errors: list[str] = []

    def report(i: int) -> Any:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                delivered.append((i, msg.partition(), msg.offset()))

        return on_delivery

    aborted_from: set[int] = set()
    transactional = transaction_size > 0
    if transactional:
        producer.init_transactions(30)
    for start in range(0, count, transaction_size or count):
        stop = min(count, start + (transaction_size or count))
        if transactional:
            producer.begin_transaction()
        for i in range(start, stop):
            key, value, headers = payload(i)
            while True:
                try:
                    producer.produce(
                        name,
                        value=value,
                        key=key,
                        partition=i % used_partitions,
                        headers=list(headers),
                        timestamp=BASE_TIME + i,
                        on_delivery=report(i),
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        if transactional:
            if (start // transaction_size) % abort_every == abort_every - 1:
                producer.flush(30)  # the records reach the log, then the abort marks them
                producer.abort_transaction(30)
                aborted_from.update(range(start, stop))
            else:
                producer.commit_transaction(30)
    if producer.flush(60):
        raise KafkaException(f"{name}: records still unsent after 60 s")
    assert not errors, f"{len(errors)} records not delivered, first: {errors[:3]}"
    for i, partition, offset in sorted(delivered, key=lambda d: (d[1], d[2])):
        key, value, headers = payload(i)
        rec = Rec(partition, offset, key, value, headers)
        topic.timestamps[partition, offset] = BASE_TIME + i
        if i in aborted_from:
            topic.aborted.append(rec)
        else:
            topic.records.setdefault(partition, []).append(rec)
    if topic.aborted and not asyncio.run(_broker_hides_aborted(bootstrap, topic)):
        # This broker serves aborted records even under read_committed (Tansu lists no
        # aborted transactions in its fetch responses): they are what a reader gets.
        for rec in topic.aborted:
            topic.records[rec.partition].append(rec)
        for recs in topic.records.values():
            recs.sort()
        topic.aborted_served = True
    return topic


async def _broker_hides_aborted(bootstrap: str, topic: ProducedTopic) -> bool:
    """Ask the broker, with a plain aiokafka read_committed consumer, whether the first
    aborted record is left out of what it serves."""
    first = topic.aborted[0]
    client = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await client.start()
    try:
        tp = TopicPartition(topic.name, first.partition)
        client.assign([tp])
        client.seek(tp, first.offset)
        while True:
            batch = await client.getmany(tp, timeout_ms=1000)
            for record in batch.get(tp, []):
                return record.offset != first.offset
            if await client.position(tp) > first.offset:
                return True
    finally:
        await client.stop()


def produce_aiokafka(
    url: str, bootstrap: str, name: str, count: int, *, partitions: int, used_partitions: int
) -> ProducedTopic:
    """Write ``count`` records with aiokafka in large uncompressed batches."""
    create_topic(bootstrap, name, partitions)

    async def run() -> list[tuple[int, int, int]]:
        client = aiokafka_producer(url, linger_ms=100, max_batch_size=1_000_000)
        await client.start()
        try:
            futures = []
            for i in range(count):
                key, value, headers = payload(i)
                futures.append(
                    await client.send(
                        name,
                        value,
                        key=key,
                        partition=i % used_partitions,
                        headers=list(headers),
                        timestamp_ms=BASE_TIME + i,
                    )
                )
            metas = await asyncio.gather(*futures)
            return [(i, m.partition, m.offset) for i, m in enumerate(metas)]
        finally:
            await client.stop()

    topic = ProducedTopic(name, partitions)
    for i, partition, offset in sorted(asyncio.run(run()), key=lambda d: (d[1], d[2])):
        key, value, headers = payload(i)
        topic.records.setdefault(partition, []).append(Rec(partition, offset, key, value, headers))
        topic.timestamps[partition, offset] = BASE_TIME + i
    return topic


# -- reading what a path wrote ------------------------------------------------------


def _field_bytes(doc: Mapping[str, Any], name: str) -> bytes | None:
    value = doc[name]
    if value is None:
        return None
    if doc.get(f"{name}_encoding") == "base64":
        return base64.b64decode(value)
    assert isinstance(value, str), (name, value)
    return value.encode()


def _header_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return str(value).encode()


def normal_headers(headers: Iterable[tuple[str, bytes | None]]) -> HeaderList:
    return tuple(sorted(headers, key=lambda h: (h[0], h[1] or b"")))


def rec_from_jsonl(doc: Mapping[str, Any]) -> Rec:
    """A record from ``consume``'s jsonl with ``--key-format raw --value-format raw``."""
    headers: list[tuple[str, bytes | None]] = []
    for name, value in doc["headers"].items():
        for one in value if isinstance(value, list) else [value]:
            headers.append((name, _header_bytes(one)))
    return Rec(
        doc["partition"],
        doc["offset"],
        _field_bytes(doc, "key"),
        _field_bytes(doc, "value"),
        normal_headers(headers),
    )


def rec_from_parts(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> Rec:
    return Rec(partition, offset, key, value, normal_headers(headers))


def comparable(records: Iterable[Rec]) -> list[Rec]:
    """Records with headers in a canonical order (jsonl keeps them by name)."""
    return sorted(
        Rec(r.partition, r.offset, r.key, r.value, normal_headers(r.headers)) for r in records
    )


def assert_exactly(got: Sequence[Rec], produced: ProducedTopic | Sequence[Rec]) -> None:
    """``got`` holds each wanted record once, nothing else, in offset order per partition."""
    wanted = comparable(produced.all() if isinstance(produced, ProducedTopic) else produced)
    seen = comparable(got)
    per_partition: dict[int, list[int]] = {}
    for r in got:
        per_partition.setdefault(r.partition, []).append(r.offset)
    for partition, offsets in per_partition.items():
        assert offsets == sorted(offsets), f"partition {partition} out of offset order"
    duplicates = len(seen) - len(set(seen))
    assert duplicates == 0, f"{duplicates} records written twice"
    missing = sorted(set(wanted) - set(seen))
    extra = sorted(set(seen) - set(wanted))
    assert not missing and not extra, (
        f"{len(got)} records read, {len(wanted)} produced; missing {len(missing)} "
        f"(first {missing[:3]}), unexpected {len(extra)} (first {extra[:3]})"
    )
