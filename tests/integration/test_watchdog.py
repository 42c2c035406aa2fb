"""The watchdog names real causes against the real broker, and stays quiet when all is well."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from kconsume import App
from kconsume.admin import create_topics
from kconsume.engine import (
    TP,
    CommitFailingWarning,
    EngineEvent,
    FetchStalledWarning,
    LivelockCleared,
    LivelockWarning,
    LoopBlockedWarning,
    RevokeDrainTimeout,
    Stream,
    StreamStalledWarning,
    WatchdogCleared,
    WatchdogWarning,
)
from tests.brokers import Broker, client_url, current_client
from tests.helpers import wait_for
from tests.integration.conftest import Produce

pytestmark = pytest.mark.broker

QUICK: dict[str, Any] = {
    "commit_interval": 0.1,
    "watchdog_interval": 0.1,
    "commit_livelock_soft_timeout": 0.6,
    "stream_processing_timeout": 0.6,
    "fetch_stall_timeout": 0.6,
    "loop_block_threshold": 0.4,
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 300,
}


def watched(broker: Broker, group: str, **kwargs: Any) -> tuple[App, list[EngineEvent]]:
    # A group per client: a member the other client's run left behind would slow the join.
    app = App(client_url(broker), group_id=f"{group}-{current_client()}", **{**QUICK, **kwargs})
    events: list[EngineEvent] = []
    app.events.subscribe(events.append)
    return app, events


def warnings(events: list[EngineEvent], kind: type[WatchdogWarning]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def drain(stream: Stream) -> None:
    async for _ in stream:
        pass


async def test_handler_that_awaits_too_long_is_head_of_line_and_slow_stream(
    client: str, broker: Broker, topic: str, produce: Produce, caplog: pytest.LogCaptureFixture
) -> None:
    await produce(topic, 30)
    app, events = watched(broker, "wd-await")
    stream = app.stream(topic, value="json", name="enrich")
    release = asyncio.Event()

    async def enrich() -> None:
        async for event in stream:
            if event.partition == 1 and event.offset == 4:
                await release.wait()

    async with app:
        task = asyncio.create_task(enrich())
        await wait_for(lambda: warnings(events, LivelockWarning), what="head-of-line")
        hol = warnings(events, LivelockWarning)
        stuck = next(w for w in hol if w.tp == TP(topic, 1))
        assert stuck.blocking_offset == 4 and stuck.streams == ("enrich",)
        assert stuck.key_preview == repr("13") and stuck.age is not None
        assert "offset 4 blocks the commit of" in stuck.summary and "enrich" in stuck.summary
        await wait_for(lambda: warnings(events, StreamStalledWarning), what="slow stream")
        slow = warnings(events, StreamStalledWarning)[0]
        assert slow.cause == "stream-slow" and slow.stream == "enrich"
        assert (slow.current, slow.current_offset) == (TP(topic, 1), 4)
        release.set()
        await wait_for(lambda: any(isinstance(e, LivelockCleared) for e in events))
        await wait_for(
            lambda: any(isinstance(e, WatchdogCleared) and e.cause == "stream-slow" for e in events)
        )
        task.cancel()
    logged = caplog.text
    assert f"offset 4 blocks the commit of {topic}[1]" in logged  # headless: a log line too


async def test_stream_nobody_reads_is_not_started(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 6)
    app, events = watched(broker, "wd-unread")
    app.stream(topic, name="forgotten")
    async with app:
        await wait_for(lambda: warnings(events, StreamStalledWarning), what="not started")
    (warning,) = {w.cause: w for w in warnings(events, StreamStalledWarning)}.values()
    assert warning.cause == "stream-not-started" and warning.waiting == 6


async def test_blocking_the_loop_is_reported_with_its_meaning(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 3)
    app, events = watched(broker, "wd-block")
    stream = app.stream(topic)

    async def blocking() -> None:
        async for event in stream:
            if event.offset == 0 and event.partition == 0:
                time.sleep(1.0)  # the mistake under test: a blocking call in a handler

    async with app:
        task = asyncio.create_task(blocking())
        await wait_for(lambda: warnings(events, LoopBlockedWarning), what="loop blocked")
        warning = warnings(events, LoopBlockedWarning)[0]
        assert warning.drift >= 0.4
        assert "without awaiting" in warning.summary
        await wait_for(
            lambda: any(
                isinstance(e, WatchdogCleared) and e.cause == "loop-blocked" for e in events
            )
        )
        task.cancel()


async def test_revoke_that_cannot_drain_names_the_held_offsets(
    client: str, broker: Broker, topic_name: str, produce: Produce
) -> None:
    await create_topics(broker.url, {topic_name: 2})
    await produce(topic_name, 4, partition=0)
    await produce(topic_name, 4, partition=1, start=4)
    first, events = watched(broker, "wd-drain", revoke_drain_timeout=0.3)
    stream = first.stream(topic_name)

    async def stuck() -> None:
        async for event in stream:
            if event.offset == 2:
                await asyncio.Event().wait()

    second, _ = watched(broker, "wd-drain")
    second_stream = second.stream(topic_name)
    async with first:
        task = asyncio.create_task(stuck())
        await wait_for(lambda: any(s.current_offset == 2 for s in first.snapshot().streams))
        async with second:
            drainer = asyncio.create_task(drain(second_stream))
            await wait_for(lambda: warnings(events, RevokeDrainTimeout), timeout=20)
            drainer.cancel()
        task.cancel()
    timeout = warnings(events, RevokeDrainTimeout)[0]
    assert timeout.cause == "rebalance-drain-stuck"
    assert 2 in next(iter(timeout.held.values()))


async def test_stopped_broker_stalls_fetching_and_fails_commits(
    client: str, topic_name: str, make_broker: Callable[[], AbstractContextManager[Broker]]
) -> None:
    with make_broker() as own:
        await create_topics(own.url, {topic_name: 1})
        from kconsume.admin import producer

        client = producer(own.url)
        await client.start()
        for i in range(300):
            await client.send(topic_name, b"%d" % i)
        await client.flush()
        await client.stop()
        app, events = watched(
            own, "wd-gone", commit_timeout=0.5, max_poll_records=10, stream_buffer_maxsize=10
        )
        stream = app.stream(topic_name)
        release = asyncio.Event()
        seen = 0

        async def slow() -> None:
            nonlocal seen
            async for _ in stream:
                seen += 1
                if seen == 50:
                    await release.wait()

        await app.start()
        task = asyncio.create_task(slow())
        try:
            await wait_for(lambda: seen >= 50)
            await wait_for(lambda: (app.snapshot().partitions[0].committed or 0) >= 40)
            own.stop()  # the broker goes away with 250 messages still to fetch
            release.set()
            await wait_for(lambda: warnings(events, FetchStalledWarning), timeout=20)
            await wait_for(lambda: warnings(events, CommitFailingWarning), timeout=20)
        finally:
            task.cancel()
            started = time.monotonic()
            await app.stop()  # with no broker: the final commit fails fast, nothing hangs
            assert time.monotonic() - started < 15
    stalled = warnings(events, FetchStalledWarning)[0]
    assert stalled.tp == TP(topic_name, 0) and stalled.highwater == 300
    failing = warnings(events, CommitFailingWarning)[0]
    assert failing.failures >= 3 and failing.error


async def test_nothing_fires_in_a_healthy_run_or_after_a_rebalance(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    first, events = watched(broker, "wd-healthy")
    stream = first.stream(topic)
    second, second_events = watched(broker, "wd-healthy")
    second_stream = second.stream(topic)
    async with first:
        tasks = [asyncio.create_task(drain(stream))]
        await wait_for(lambda: len(first.consumer.assignment()) == 3)
        started = time.monotonic()
        for i in range(10):
            await produce(topic, 30, start=i * 30)
            if i == 3:
                await second.start()
                tasks.append(asyncio.create_task(drain(second_stream)))
        await wait_for(lambda: time.monotonic() - started > 3, what="three healthy seconds")
        await second.stop()
        await wait_for(lambda: len(first.consumer.assignment()) == 3, timeout=20)
        after = time.monotonic()
        await wait_for(lambda: time.monotonic() - after > 1.5, what="quiet after the rebalance")
        for task in tasks:
            task.cancel()
    assert not [e for e in events + second_events if isinstance(e, WatchdogWarning)]
