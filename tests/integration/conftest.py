from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kconsume.admin import create_topics, producer
from tests.brokers import Broker

pytestmark = pytest.mark.broker

Produce = Callable[..., Awaitable[None]]


@pytest.fixture
async def topic(broker: Broker, topic_name: str) -> str:
    """A fresh 3-partition topic on the session broker."""
    await create_topics(broker.url, {topic_name: 3})
    return topic_name


@pytest.fixture
async def produce(broker: Broker) -> AsyncIterator[Produce]:
    """``await produce(topic, n, partition=None)``: n JSON orders, keys spread over partitions."""
    client = producer(broker.url)
    await client.start()

    async def send(
        topic: str,
        n: int,
        *,
        partition: int | None = None,
        start: int = 0,
        value: bytes | None = None,
    ) -> None:
        for i in range(start, start + n):
            payload = value if value is not None else orjson.dumps({"order": i})
            await client.send(
                topic,
                payload,
                key=str(i).encode(),
                partition=partition if partition is not None else i % 3,
            )
        await client.flush()

    yield send
    await client.stop()


async def group_committed(broker: Broker, group: str, topic: str) -> dict[int, int | None]:
    """The group's committed offsets, read by an independent aiokafka client."""
    client = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
    )
    await client.start()
    try:
        metadata = await client._client.fetch_all_metadata()
        return {
            p: await client.committed(TopicPartition(topic, p))
            for p in sorted(metadata.partitions_for_topic(topic) or ())
        }
    finally:
        await client.stop()
