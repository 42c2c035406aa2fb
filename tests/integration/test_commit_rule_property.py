"""The commit rule against a real broker, on both clients: a group commits exactly up
to the oldest message not processed, never past it.

tests/unit/test_consumer_properties.py checks the rule against an in-process driver
with many more shapes; this checks that each real client carries it out: the offsets
the broker holds for the group are exactly the engine's, whatever is held back.
"""

from __future__ import annotations

import asyncio
import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kconsume import App
from kconsume.admin import create_topics, producer
from tests.brokers import Broker, client_url
from tests.helpers import wait_for
from tests.integration.conftest import group_committed

pytestmark = pytest.mark.broker

_ids = itertools.count()
FAST_GROUP = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}


async def _fill(broker: Broker, topic: str, counts: list[int]) -> None:
    await create_topics(broker.url, {topic: len(counts)})
    client = producer(broker.url)
    await client.start()
    try:
        for partition, count in enumerate(counts):
            for i in range(count):
                await client.send(topic, b"%d" % i, partition=partition)
        await client.flush()
    finally:
        await client.stop()


async def _consume_holding(
    broker: Broker, client: str, topic: str, group: str, counts: list[int], held: set[int]
) -> dict[int, int | None]:
    """Read everything, hold the messages at ``held`` offsets unprocessed, stop."""
    app = App(
        client_url(broker, client),
        group_id=group,
        start_at="beginning",
        commit_interval=0.05,
        stop_drain_timeout=0.1,
        **FAST_GROUP,  # type: ignore[arg-type]
    )
    stream = app.stream(topic)
    seen = 0

    async def read() -> None:
        nonlocal seen
        async for event in stream:
            if event.offset in held:
                app.consumer.hold(event.message)
            seen += 1

    async with app:
        task = asyncio.create_task(read())
        await wait_for(lambda: seen == sum(counts), 30, f"{sum(counts)} messages")
        await app.consumer.commit()
        task.cancel()
    return await group_committed(broker, group, topic)


@settings(
    max_examples=int(os.environ.get("KCONSUME_PROPERTY_EXAMPLES", "5")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    counts=st.lists(st.integers(0, 25), min_size=1, max_size=3),
    held=st.sets(st.integers(0, 24), max_size=4),
)
def test_a_group_commits_exactly_to_the_oldest_unprocessed_message(
    client: str, broker: Broker, counts: list[int], held: set[int]
) -> None:
    n = next(_ids)
    topic, group = f"rule-{n}-{os.getpid()}", f"rule-{n}-{client}"
    asyncio.run(_fill(broker, topic, counts))
    committed = asyncio.run(
        asyncio.wait_for(_consume_holding(broker, client, topic, group, counts, held), 90)
    )
    for partition, count in enumerate(counts):
        blocking = [offset for offset in held if offset < count]
        want = min(blocking, default=count)
        # An empty partition, or one held at 0, has nothing to commit.
        assert committed[partition] in ((want,) if want else (None, 0)), (
            f"partition {partition} of {count}, held {sorted(held)}: "
            f"committed {committed[partition]}, want {want}"
        )
