"""The engine against a real Kafka-protocol broker (Tansu)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest

from kconsume import App, BrokerUnreachableError, LivelockWarning, UnknownTopicError
from kconsume.admin import create_topics
from kconsume.broker import free_port
from kconsume.engine import TP, Codec, DecodeError, EngineEvent, PartitionsRevoked, Stream
from tests.brokers import Broker, client_url
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed

pytestmark = pytest.mark.broker


def engine(broker: Broker, group: str | None, **kwargs: object) -> App:
    kwargs.setdefault("commit_interval", 0.1)
    if group is not None:  # Tansu holds a JoinGroup for about half the session timeout
        kwargs.setdefault("session_timeout_ms", 2000)
        kwargs.setdefault("heartbeat_interval_ms", 300)
    return App(client_url(broker), group_id=group, **kwargs)  # type: ignore[arg-type]


async def consume(stream: Stream, seen: list[tuple[int, int]]) -> None:
    async for event in stream:
        seen.append((event.partition, event.offset))


async def test_messages_through_one_stream_are_committed(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 300)
    app = engine(broker, "g-one")
    stream = app.stream(topic, value="json")
    values: list[int] = []

    async def read() -> None:
        async for event in stream:
            values.append(event.value["order"])

    async with app:
        task = asyncio.create_task(read())
        await wait_for(lambda: len(values) == 300, what="300 messages")
        await wait_for(
            lambda: all(p.committed == 100 for p in app.snapshot().partitions),
            what="commits at the end of every partition",
        )
        task.cancel()
    assert sorted(values) == list(range(300))
    assert await group_committed(broker, "g-one", topic) == {0: 100, 1: 100, 2: 100}


async def test_three_streams_share_one_decode_and_refcount(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 90)
    decodes = 0

    def decode(data: bytes) -> bytes:
        nonlocal decodes
        decodes += 1
        return data

    counting = Codec("counting", decode)
    app = engine(broker, "g-three")
    streams = [app.stream(topic, value=counting, name=f"s{i}") for i in range(3)]
    refcounts: list[int] = []
    original = app.conductor.on_slice

    def spy(messages):  # type: ignore[no-untyped-def]
        original(messages)
        refcounts.extend(message.refcount for message in messages)

    app.consumer.slice_callback = spy
    seen: list[list[tuple[int, int]]] = [[], [], []]
    async with app:
        tasks = [asyncio.create_task(consume(s, seen[i])) for i, s in enumerate(streams)]
        await wait_for(lambda: all(len(s) == 90 for s in seen), what="every stream saw all")
        await wait_for(lambda: all(p.committed == 30 for p in app.snapshot().partitions))
        for task in tasks:
            task.cancel()
    assert set(refcounts) == {3}
    assert decodes == 90  # once per message, not once per stream
    assert sorted(seen[0]) == sorted(seen[1]) == sorted(seen[2])


async def test_restart_resumes_exactly_at_committed_offsets(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 60)
    first = engine(broker, "g-restart", stop_drain_timeout=0.1)
    stream = first.stream(topic)
    seen: list[tuple[int, int]] = []

    async def read_some() -> None:
        async for event in stream:
            seen.append((event.partition, event.offset))
            if event.offset == 9:  # stop mid-partition: hold offset 9 of whichever comes first
                await asyncio.Event().wait()

    async with first:
        task = asyncio.create_task(read_some())
        await wait_for(lambda: any(o == 9 for _, o in seen))
        await first.consumer.commit()
    task.cancel()  # after the stop: the held message was never finished
    committed = await group_committed(broker, "g-restart", topic)
    assert any(offset == 9 for offset in committed.values())  # the held one stayed uncommitted

    second = engine(broker, "g-restart")
    stream2 = second.stream(topic)
    resumed: list[tuple[int, int]] = []
    async with second:
        task = asyncio.create_task(consume(stream2, resumed))
        expected = sum(20 - (c or 0) for c in committed.values())
        await wait_for(lambda: len(resumed) == expected, what=f"{expected} messages")
        task.cancel()
    firsts: dict[int, int] = {}
    for partition, offset in resumed:
        firsts.setdefault(partition, offset)
    assert firsts == {p: c for p, c in committed.items() if c != 20}
    processed = {(p, o) for p, o in seen if o != 9 or (p, o) in set(resumed)} | set(resumed)
    assert processed >= {(p, o) for p in range(3) for o in range(20)}  # nothing lost


@pytest.mark.parametrize("cooperative", [False, True], ids=["eager", "cooperative"])
async def test_two_engines_split_partitions_and_hand_over_on_rebalance(
    client: str, broker: Broker, topic_name: str, produce: Produce, cooperative: bool
) -> None:
    if cooperative and client != "librdkafka":
        pytest.skip("aiokafka has no cooperative assignor")
    await create_topics(broker.url, {topic_name: 4})
    group = f"g-split-{cooperative}"
    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)
    apps: list[App] = []
    tasks: list[asyncio.Task[None]] = []
    revoked: dict[str, list[frozenset[TP]]] = defaultdict(list)
    settings = {"config": {"partition.assignment.strategy": "cooperative-sticky"}}

    async def start(name: str) -> App:
        app = engine(broker, group, revoke_drain_timeout=5, **(settings if cooperative else {}))
        app.events.subscribe(
            lambda e: revoked[name].append(e.tps) if isinstance(e, PartitionsRevoked) else None
        )
        stream = app.stream(topic_name, value="json")

        async def read() -> None:
            async for event in stream:
                seen[name].append((event.partition, event.value["order"]))

        await app.start()
        apps.append(app)
        tasks.append(asyncio.create_task(read()))
        return app

    async def send(start_at: int, n: int) -> None:
        for i in range(start_at, start_at + n):
            await produce(topic_name, 1, start=i, partition=i % 4)

    a = await start("a")
    await wait_for(lambda: len(a.consumer.assignment()) == 4, what="a owns all")
    await send(0, 40)
    await wait_for(lambda: len(seen["a"]) >= 40)
    b = await start("b")
    await wait_for(
        lambda: (
            len(a.consumer.assignment()) + len(b.consumer.assignment()) == 4
            and a.consumer.assignment()
            and b.consumer.assignment()
        ),
        timeout=30,
        what="the two engines split the partitions",
    )
    assert not a.consumer.assignment() & b.consumer.assignment()
    if cooperative:  # a gave up only the partitions that moved to b, and kept the others
        assert revoked["a"] == [b.consumer.assignment()], revoked["a"]
    await send(40, 40)
    orders = lambda: {o for msgs in seen.values() for _, o in msgs}  # noqa: E731
    await wait_for(lambda: orders() >= set(range(80)), timeout=30, what="all 80 orders")
    both = {name for name, msgs in seen.items() if any(o >= 40 for _, o in msgs)}
    assert both == {"a", "b"}
    # b leaves: a gets its partitions back, from b's commits, losing nothing
    await b.stop()
    tasks[1].cancel()
    await wait_for(lambda: len(a.consumer.assignment()) == 4, timeout=30, what="a owns all again")
    await send(80, 20)
    await wait_for(lambda: orders() >= set(range(100)), timeout=30, what="all 100 orders")
    await wait_for(lambda: all(p.committed == 25 for p in a.snapshot().partitions), timeout=30)
    tasks[0].cancel()
    await a.stop()
    assert await group_committed(broker, group, topic_name) == {0: 25, 1: 25, 2: 25, 3: 25}


async def test_stuck_message_blocks_only_its_partition_and_warning_names_it(
    client: str, broker: Broker, topic_name: str, produce: Produce
) -> None:
    stuck_topic, free_topic = f"{topic_name}-stuck", f"{topic_name}-free"
    await create_topics(broker.url, {stuck_topic: 1, free_topic: 1})
    await produce(stuck_topic, 10, partition=0)
    await produce(free_topic, 10, partition=0)
    app = engine(broker, "g-stuck", commit_livelock_soft_timeout=0.3, watchdog_interval=0.05)
    events: list[EngineEvent] = []
    app.events.subscribe(events.append)
    stuck_stream = app.stream(stuck_topic)
    free_stream = app.stream(free_topic)
    release = asyncio.Event()

    async def slow() -> None:
        async for event in stuck_stream:
            if event.offset == 4:
                await release.wait()

    free_seen: list[tuple[int, int]] = []
    async with app:
        tasks = [asyncio.create_task(slow()), asyncio.create_task(consume(free_stream, free_seen))]
        await wait_for(lambda: any(isinstance(e, LivelockWarning) for e in events), timeout=20)
        warnings = [e for e in events if isinstance(e, LivelockWarning)]
        assert [(w.tp, w.blocking_offset, w.committed) for w in warnings] == [
            (TP(stuck_topic, 0), 4, 4)
        ]
        snap = app.snapshot()
        stuck_p, free_p = snap.partition(TP(stuck_topic, 0)), snap.partition(TP(free_topic, 0))
        assert stuck_p is not None and free_p is not None
        assert stuck_p.committed == 4 and stuck_p.oldest_inflight == 4
        assert free_p.committed == 10 and free_p.inflight == 0
        release.set()
        await wait_for(lambda: app.snapshot().partitions[0].committed == 10)
        for task in tasks:
            task.cancel()


async def test_undecodable_payload_is_reported_and_skipped(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 3, partition=0)
    await produce(topic, 1, partition=0, value=b"\xff not json")
    await produce(topic, 3, partition=0, start=3)
    app = engine(broker, "g-bad")
    events: list[EngineEvent] = []
    app.events.subscribe(events.append)
    stream = app.stream(topic, value="json")
    values: list[int] = []

    async def read() -> None:
        async for event in stream:
            values.append(event.value["order"])

    async with app:
        task = asyncio.create_task(read())
        await wait_for(lambda: len(values) == 6)
        await wait_for(lambda: app.snapshot().partition(TP(topic, 0)).committed == 7)  # type: ignore[union-attr]
        task.cancel()
    assert values == [0, 1, 2, 3, 4, 5]
    assert [(e.offset, e.streams) for e in events if isinstance(e, DecodeError)] == [(3, (topic,))]
    assert stream.decode_errors == 1


async def test_unknown_topic_is_a_clear_error(client: str, broker: Broker) -> None:
    app = engine(broker, None)
    app.stream("no-such-topic")
    with pytest.raises(UnknownTopicError, match="no-such-topic"):
        await app.start()


async def test_unreachable_broker_fails_fast_with_a_clear_error(
    client: str,
) -> None:
    scheme = "rdkafka" if client == "librdkafka" else "kafka"
    app = App(f"{scheme}://127.0.0.1:{free_port()}", request_timeout_ms=2000)
    app.stream("orders")
    started = time.monotonic()
    with pytest.raises(BrokerUnreachableError, match="cannot reach"):
        await app.start()
    assert time.monotonic() - started < 10


async def test_observer_mode_reads_without_committing(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 30)
    app = engine(broker, None)
    stream = app.stream(topic)
    seen: list[tuple[int, int]] = []
    async with app:
        task = asyncio.create_task(consume(stream, seen))
        await wait_for(lambda: len(seen) == 30)
        assert not await app.consumer.commit()
        task.cancel()
    assert all(p.committed is None for p in app.snapshot().partitions)


async def test_full_buffer_pauses_at_the_broker_without_loss_or_duplicates(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 600)
    app = engine(broker, "g-flow", stream_buffer_maxsize=8, max_poll_records=20)
    stream = app.stream(topic)
    seen: list[tuple[int, int]] = []
    paused_seen = False

    async def slow_reader() -> None:
        nonlocal paused_seen
        async for event in stream:
            seen.append((event.partition, event.offset))
            paused_seen = paused_seen or stream.paused
            if len(seen) % 50 == 0:
                await asyncio.sleep(0.01)  # let the fetch loop run ahead and fill the buffer

    async with app:
        task = asyncio.create_task(slow_reader())
        await wait_for(lambda: len(seen) >= 600, timeout=30)
        await wait_for(lambda: all(p.committed == 200 for p in app.snapshot().partitions))
        task.cancel()
    assert paused_seen
    assert len(seen) == 600 and len(set(seen)) == 600  # every message once
    for partition in range(3):
        offsets = [o for p, o in seen if p == partition]
        assert offsets == list(range(200))  # in order after pause/resume
