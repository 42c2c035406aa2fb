"""Kafka semantics the embedded broker may lack: compaction, retention, transactions,
expired members.

Tansu keeps no segments (no compaction, no retention) and has no transactions, so those
tests run with ``make test-kafka`` only (``kafka_only``); a member killed with SIGKILL is
expired by both brokers, and that test runs on both.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Mapping

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kconsume import App
from kconsume.engine import TP, Stream
from tests.brokers import Broker, client_url
from tests.helpers import wait_for

pytestmark = pytest.mark.broker

NO_SEGMENTS = pytest.mark.kafka_only("Tansu keeps no segments: no compaction, no retention")
NO_TRANSACTIONS = pytest.mark.kafka_only("Tansu has no transactions (InitProducerId fails)")

#: A group the broker expires quickly: the test broker allows sessions from 500 ms.
FAST_GROUP = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}


async def create_topic(
    broker: Broker, name: str, configs: Mapping[str, str], partitions: int = 1
) -> None:
    """A topic with per-topic configs (segments, retention, cleanup policy)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=dict(configs))], timeout_ms=10_000
        )
        await wait_for_leader(admin, name, partitions)
    finally:
        await admin.close()


async def wait_for_leader(admin: AIOKafkaAdminClient, name: str, partitions: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        metadata = await admin._client.fetch_all_metadata()
        leaders = [
            metadata.leader_for_partition(TopicPartition(name, p)) for p in range(partitions)
        ]
        if all(leader is not None and leader >= 0 for leader in leaders):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no leader for {name} in 10 s")


async def read_offsets(broker: Broker, topic: str, **settings: object) -> list[int]:
    """Every offset partition 0 of ``topic`` delivers now, read by a plain aiokafka client."""
    client = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        **settings,
    )
    await client.start()
    try:
        tp = TopicPartition(topic, 0)
        client.assign([tp])
        end = (await client.end_offsets([tp]))[tp]
        offsets: list[int] = []
        deadline = time.monotonic() + 10
        while await client.position(tp) < end:
            assert time.monotonic() < deadline, f"could not read {topic} to {end}"
            batch = await client.getmany(tp, timeout_ms=200)
            offsets.extend(record.offset for record in batch.get(tp, ()))
        return offsets
    finally:
        await client.stop()


async def log_start(broker: Broker, topic: str) -> int:
    client = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await client.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await client.beginning_offsets([tp]))[tp])
    finally:
        await client.stop()


async def read_stream(stream: Stream, seen: list[int]) -> None:
    async for event in stream:
        seen.append(event.offset)


@NO_SEGMENTS
async def test_compacted_topic_has_gaps_that_never_block_a_commit(
    client: str, broker: Broker, topic_name: str
) -> None:
    await create_topic(
        broker,
        topic_name,
        {
            "cleanup.policy": "compact",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.001",
            "min.compaction.lag.ms": "0",
            "delete.retention.ms": "100",
        },
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        # every tenth record has a key of its own; the others share three keys, of which
        # compaction keeps the last: 0, 10, 20, 30 and 37, 38, 39 stay, with gaps between
        for i in range(40):
            key = b"u%d" % i if i % 10 == 0 else b"k%d" % (i % 3)
            await producer.send(topic_name, b"%d" % i, key=key, partition=0)
        await producer.flush()
        compacted: list[int] = []
        deadline = time.monotonic() + 60
        while not compacted or 1 in compacted:
            assert time.monotonic() < deadline, "the cleaner did not compact the topic in 60 s"
            # every append after segment.ms rolls the segment, and the cleaner only
            # compacts rolled segments: keep appending to the same key meanwhile
            await producer.send_and_wait(topic_name, b"tick", key=b"tick", partition=0)
            compacted = await read_offsets(broker, topic_name)
    finally:
        await producer.stop()
    end = compacted[-1] + 1
    assert compacted[:7] == [0, 10, 20, 30, 37, 38, 39], compacted

    app = App(
        client_url(broker), group_id=f"compact-{topic_name}", commit_interval=0.1, **FAST_GROUP
    )
    stream = app.stream(topic_name)
    seen: list[int] = []
    async with app:
        task = asyncio.create_task(read_stream(stream, seen))
        # the last record is in the active segment, which the cleaner never touches
        await wait_for(lambda: end - 1 in seen, timeout=20, what="the last record")
        await wait_for(
            lambda: app.snapshot().partitions[0].committed == end,
            timeout=10,
            what=f"a commit at the end ({end}) across the gaps",
        )
        task.cancel()
    # the gaps are simply not delivered (the cleaner may have removed more ticks since)
    assert seen[:7] == [0, 10, 20, 30, 37, 38, 39]
    assert set(seen) <= set(compacted) and seen == sorted(seen)


@NO_SEGMENTS
async def test_retention_past_the_committed_offset_is_reported_and_reset(
    client: str, broker: Broker, topic_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    await create_topic(broker, topic_name, {"retention.ms": "60000", "segment.ms": "100"})
    group = f"retention-{topic_name}"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        old = int((time.time() - 600) * 1000)  # ten minutes old: past the 60 s retention
        for i in range(10):
            await producer.send(topic_name, b"old %d" % i, partition=0, timestamp_ms=old)
        await producer.flush()
        start = 0
        deadline = time.monotonic() + 30
        while start < 10:
            assert time.monotonic() < deadline, "retention did not remove the old records"
            start = await log_start(broker, topic_name)
        # the group had read three records before retention removed them
        committer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
        )
        await committer.start()
        try:
            committer.assign([TopicPartition(topic_name, 0)])
            await committer.commit({TopicPartition(topic_name, 0): 3})
        finally:
            await committer.stop()
        for i in range(5):  # offsets 10..14, new enough to stay
            await producer.send(topic_name, b"new %d" % i, partition=0)
        await producer.flush()
    finally:
        await producer.stop()

    app = App(
        client_url(broker),
        group_id=group,
        auto_offset_reset="earliest",
        commit_interval=0.1,
        **FAST_GROUP,
    )
    stream = app.stream(topic_name)
    seen: list[int] = []
    with caplog.at_level(logging.WARNING, logger="kconsume"):
        async with app:
            task = asyncio.create_task(read_stream(stream, seen))
            await wait_for(lambda: len(seen) >= 5, timeout=20, what="the five new records")
            await wait_for(lambda: app.snapshot().partitions[0].committed == 15, timeout=10)
            task.cancel()
    assert seen == [10, 11, 12, 13, 14]  # from the log start, as auto_offset_reset says
    reports = [r.getMessage() for r in caplog.records if "below the log start" in r.getMessage()]
    assert reports, caplog.text
    assert (
        f"{topic_name}[0]: the group's committed offset 3 is below the log start 10" in (reports[0])
    )
    assert "starting at the log start, 10 (auto_offset_reset=earliest)" in reports[0]


async def produce_transactions(broker: Broker, topic: str) -> None:
    """Committed 0..4, aborted 6..10, committed 12..16 (5, 11, 17: transaction markers)."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=f"tx-{topic}")
    await producer.start()
    try:
        for label, commit in (("committed-a", True), ("aborted", False), ("committed-b", True)):
            await producer.begin_transaction()
            for i in range(5):
                await producer.send(topic, b"%s %d" % (label.encode(), i), partition=0)
            if commit:
                await producer.commit_transaction()
            else:
                await producer.abort_transaction()
    finally:
        await producer.stop()


@NO_TRANSACTIONS
async def test_aborted_transactions_are_never_delivered_under_read_committed(
    client: str, broker: Broker, topic_name: str
) -> None:
    await create_topic(broker, topic_name, {})
    await produce_transactions(broker, topic_name)
    app = App(
        client_url(broker),
        group_id=f"tx-{topic_name}",
        isolation_level="read_committed",
        commit_interval=0.1,
        **FAST_GROUP,
    )
    stream = app.stream(topic_name)
    values: list[bytes] = []
    offsets: list[int] = []

    async def read() -> None:
        async for event in stream:
            values.append(event.value)
            offsets.append(event.offset)

    async with app:
        task = asyncio.create_task(read())
        await wait_for(lambda: len(values) >= 10, timeout=20, what="the committed records")
        # nothing in flight: the commit reaches at least the last delivered record
        await wait_for(lambda: (app.snapshot().partitions[0].committed or 0) >= 17, timeout=10)
        task.cancel()
    assert offsets == [0, 1, 2, 3, 4, 12, 13, 14, 15, 16]
    assert not [v for v in values if v.startswith(b"aborted")]


@NO_TRANSACTIONS
async def test_a_trailing_transaction_marker_never_holds_the_commit_back(
    client: str, broker: Broker, topic_name: str
) -> None:
    await create_topic(broker, topic_name, {})
    await produce_transactions(broker, topic_name)
    app = App(
        client_url(broker),
        group_id=f"txend-{topic_name}",
        isolation_level="read_committed",
        commit_interval=0.1,
        **FAST_GROUP,
    )
    stream = app.stream(topic_name)
    seen: list[int] = []
    async with app:
        task = asyncio.create_task(read_stream(stream, seen))
        await wait_for(lambda: len(seen) >= 10, timeout=20, what="the committed records")
        # offset 17 is the last transaction's marker: nothing to deliver, nothing in flight
        await wait_for(
            lambda: app.snapshot().partitions[0].committed == 18,
            timeout=10,
            what="a commit at the end, past the marker",
        )
        task.cancel()
    assert app.snapshot().partitions[0].lag in (0, None)


async def test_a_member_killed_with_sigkill_loses_its_partitions_within_the_session(
    client: str, broker: Broker, topic_name: str
) -> None:
    from kconsume.admin import create_topics

    await create_topics(broker.url, {topic_name: 4})
    group = f"kill-{topic_name}"
    survivor = App(client_url(broker), group_id=group, commit_interval=0.2, **FAST_GROUP)
    survivor.stream(topic_name)
    async with survivor:
        await wait_for(lambda: len(survivor.consumer.assignment()) == 4, timeout=20)
        victim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kconsume",
                "consume",
                "-b",
                broker.bootstrap,
                topic_name,
                "-g",
                group,
                "-X",
                "session.timeout.ms=2000",
                "-X",
                "heartbeat.interval.ms=300",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await wait_for(
                lambda: len(survivor.consumer.assignment()) == 2,
                timeout=30,
                what="the second member taking half the partitions",
            )
        finally:
            victim.kill()  # SIGKILL: no LeaveGroup, the broker must expire the member
            victim.wait(10)
        killed = time.monotonic()
        await wait_for(
            lambda: len(survivor.consumer.assignment()) == 4,
            timeout=20,
            what="the dead member's partitions back at the survivor",
        )
        moved = time.monotonic() - killed
    # the session (2 s) expires the member; the survivor rejoins at its next heartbeat
    assert moved < 2.0 + 3.0, f"partitions moved {moved:.1f}s after the kill"
    assert {TP(topic_name, p) for p in range(4)} == set(survivor.consumer.assignment())
