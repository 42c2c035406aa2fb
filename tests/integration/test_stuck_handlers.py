"""Handlers stuck on one record, against the real broker (issue 15, "Stuck handlers").

A skip of the record a handler awaits forever ends that handler's iteration; an agent
time limit does the same by itself; either way the agent goes on with the next record.
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from kconsume import App
from kconsume.admin import create_topics
from kconsume.engine import (
    TP,
    BackPressureWarning,
    EngineEvent,
    HandlerTimedOut,
    LoopBlockedWarning,
    MessageSkipped,
    StopLeftUncommitted,
    StopStarted,
    Stream,
    WatchdogCleared,
)
from kconsume.engine.app import AppLifecycle
from kconsume.run import run_headless
from kconsume.tail import TailSession
from kconsume.tail.logs import capture_logs
from kconsume.tail.source import SourceState, blocked_longest
from kconsume.tui import DashboardApp
from kconsume.tui.run import print_left_uncommitted
from kconsume.tui.screens import SkipScreen
from kconsume.tui.widgets import EventLog
from tests.brokers import Broker
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed

pytestmark = pytest.mark.broker

QUICK: dict[str, Any] = {
    "commit_interval": 0.1,
    "watchdog_interval": 0.1,
    "commit_livelock_soft_timeout": 0.5,
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 300,
}


def watched(broker: Broker, group: str, **kwargs: Any) -> tuple[App, list[EngineEvent]]:
    app = App(broker.url, group_id=group, **{**QUICK, **kwargs})
    events: list[EngineEvent] = []
    app.events.subscribe(events.append)
    return app, events


def committed(app: App) -> int | None:
    partitions = app.snapshot().partitions
    return partitions[0].committed if partitions else None


async def one_partition(broker: Broker, topic_name: str, produce: Produce, n: int) -> str:
    await create_topics(broker.url, {topic_name: 1})
    await produce(topic_name, n, partition=0)
    return topic_name


async def test_skipping_the_record_an_agent_hangs_on_cancels_it_and_the_agent_goes_on(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 10)
    app, events = watched(broker, "stuck-skip")
    seen: list[int] = []
    cancelled: list[int] = []

    @app.agent(topic, value="json", name="billing")
    async def billing(stream: Stream) -> None:
        async for event in stream:
            if event.offset == 3:
                try:
                    await asyncio.Event().wait()  # forever
                except asyncio.CancelledError:
                    cancelled.append(event.offset)
                    raise
            seen.append(event.offset)

    tp = TP(topic, 0)
    async with app:
        await wait_for(lambda: app.watchdog.livelock_warned(tp), what="blocked at 3")
        skipped = app.skip(tp, 3)
        assert skipped is not None and skipped.cancelled == ("billing",)
        assert not skipped.still_running
        await wait_for(lambda: seen[-1:] == [9], what="the agent went on past 3")
        await wait_for(lambda: committed(app) == 10, what="commit")
    assert seen == [0, 1, 2, 4, 5, 6, 7, 8, 9] and cancelled == [3]
    [event] = [e for e in events if isinstance(e, MessageSkipped)]
    assert "cancelled the handler of billing" in event.summary
    assert not [e for e in events if isinstance(e, HandlerTimedOut)]
    assert (await group_committed(broker, "stuck-skip", topic))[0] == 10


async def test_skipping_what_a_plain_task_hangs_on_says_the_stream_stays_stuck(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 5)
    app, events = watched(broker, "stuck-plain")
    stream = app.stream(topic, name="enrich")
    release = asyncio.Event()

    async def enrich() -> None:  # the user's own task: no agent, nothing to cancel
        async for event in stream:
            if event.offset == 1:
                await release.wait()

    tp = TP(topic, 0)
    async with app:
        task = asyncio.create_task(enrich())
        await wait_for(lambda: app.watchdog.livelock_warned(tp), what="blocked at 1")
        skipped = app.skip(tp, 1)
        assert skipped is not None and skipped.still_running == ("enrich",)
        assert "enrich still runs on it and stays stuck" in skipped.summary
        assert stream.current is not None and stream.current.message.offset == 1
        release.set()
        await wait_for(lambda: committed(app) == 5, what="commit")
        task.cancel()
    assert [e for e in events if isinstance(e, MessageSkipped)] == [skipped]


async def test_agent_time_limit_cancels_the_iteration_reports_the_offset_and_goes_on(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 8)
    app, events = watched(broker, "stuck-timeout")
    seen: list[int] = []
    starts = 0

    @app.agent(topic, value="json", name="billing", timeout=0.3)
    async def billing(stream: Stream) -> None:
        nonlocal starts
        starts += 1
        async for event in stream:
            if event.offset in (2, 5):
                await asyncio.sleep(3600)
            seen.append(event.offset)

    async with app:
        await wait_for(lambda: seen[-1:] == [7], what="past both slow records")
        await wait_for(lambda: committed(app) == 8, what="commit")
        agent = app.agents[0]
        assert agent.cuts == 2 and starts == 3
    timed_out = [e for e in events if isinstance(e, HandlerTimedOut)]
    assert [(e.tp, e.offset, e.agent) for e in timed_out] == [
        (TP(topic, 0), 2, "billing"),
        (TP(topic, 0), 5, "billing"),
    ]
    assert all(0.3 <= e.after < 1.0 for e in timed_out)
    assert f"{topic}[0]@2 cancelled after" in timed_out[0].summary
    assert seen == [0, 1, 3, 4, 6, 7]


async def test_agent_time_limit_cancels_a_take_batch(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 6)
    app, events = watched(broker, "stuck-take")
    batches: list[list[int]] = []

    @app.agent(topic, name="batches", timeout=0.3)
    async def take(stream: Stream) -> None:
        async for batch in stream.take(3, within=0.2):
            offsets = [e.offset for e in batch]
            if 1 in offsets and not batches:
                batches.append([])
                await asyncio.sleep(3600)
            batches.append(offsets)

    async with app:
        await wait_for(lambda: committed(app) == 6, what="commit")
    [timed_out] = [e for e in events if isinstance(e, HandlerTimedOut)]
    assert timed_out.offset == 0
    assert 5 in batches[-1]


async def test_what_shows_blocked_always_has_a_blocking_record(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    """A record acked after the warning (the handler finished) must not leave the
    partition flagged with nothing to open or skip until the next commit."""
    topic = await one_partition(broker, topic_name, produce, 4)
    app, _ = watched(broker, "stuck-flag", commit_interval=3600)  # the commit stands still
    stream = app.stream(topic, name="enrich")
    release = asyncio.Event()

    async def enrich() -> None:
        async for event in stream:
            if event.offset == 0:
                await release.wait()

    tp = TP(topic, 0)
    async with app:
        task = asyncio.create_task(enrich())
        await wait_for(lambda: blocked_longest(app.snapshot()) == (tp, 0), what="blocked at 0")
        release.set()
        await wait_for(lambda: stream.processed == 4, what="all four processed")
        snapshot = app.snapshot()
        p = snapshot.partition(tp)
        assert p is not None and p.committed in (None, 0) and p.oldest_inflight is None
        assert app.watchdog.livelock_warned(tp)  # the warning stands until the commit moves
        assert not p.livelock_warned and blocked_longest(snapshot) is None
        task.cancel()


async def test_a_skip_in_the_dashboard_is_listed_once_and_the_agent_goes_on(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 6)
    app, _ = watched(broker, "stuck-once", stop_drain_timeout=0.5)
    seen: list[int] = []

    @app.agent(topic, value="json", name="billing")
    async def billing(stream: Stream) -> None:
        async for event in stream:
            if event.offset == 2:
                await asyncio.Event().wait()
            seen.append(event.offset)

    tp = TP(topic, 0)
    session = TailSession.attach(app, broker=broker.url, topics=[topic], allow_skip=True)
    dashboard = DashboardApp(session, tz=UTC)
    with capture_logs(session.notify):
        async with session, dashboard.run_test(size=(160, 50)) as pilot:
            await wait_for(lambda: blocked_longest(session.snapshot()) == (tp, 2), what="blocked")
            await pilot.press("s")
            await wait_for(lambda: isinstance(dashboard.screen, SkipScreen), what="confirmation")
            await pilot.press("y")
            await wait_for(lambda: seen[-1:] == [5], what="billing went on past offset 2")
            lines = dashboard.query_one(EventLog).lines

            def listed() -> list[str]:
                return [line.text for line in lines if f"skipped {topic}[0]@2" in line.text]

            await wait_for(lambda: listed(), what="the skip in Events")
            await pilot.pause()
            [line] = listed()
            assert "skipped" in line and "cancelled the handler of billing" in line
            await pilot.press("q")
            await wait_for(lambda: session.done, what="stopped")


async def test_a_full_buffer_is_back_pressure_naming_the_stream_and_partitions(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    await create_topics(broker.url, {topic_name: 2})
    await produce(topic_name, 40, partition=0)
    await produce(topic_name, 40, partition=1, start=40)
    app, events = watched(broker, "stuck-pressure")
    release = asyncio.Event()

    @app.agent(topic_name, name="billing", maxsize=8)
    async def billing(stream: Stream) -> None:
        async for _ in stream:
            await release.wait()

    session = TailSession.attach(app, broker=broker.url, topics=[topic_name])
    tps = (TP(topic_name, 0), TP(topic_name, 1))
    async with session:
        await wait_for(lambda: [e for e in events if isinstance(e, BackPressureWarning)])
        [warning] = [e for e in events if isinstance(e, BackPressureWarning)]
        assert warning.stream == "billing" and warning.tps == tps
        assert warning.buffered >= 8 and warning.maxsize == 8  # a slice may overshoot it
        assert (
            f"buffer is full ({warning.buffered}/8): {topic_name}[0,1] paused until it drains "
            f"to 4; billing on {warning.current}@0 for "
        ) in warning.summary
        snapshot = session.snapshot()
        assert snapshot is not None
        assert all(p.paused_by == ("billing",) for p in snapshot.partitions)
        status = session.status
        assert status.state is SourceState.BACKPRESSURE
        assert status.detail.startswith("billing full (")
        assert status.detail.endswith(f"): {topic_name}[0,1] paused")
        release.set()
        await wait_for(
            lambda: any(
                isinstance(e, WatchdogCleared) and e.cause == "back-pressure" for e in events
            ),
            what="cleared once billing drains",
        )
        session.snapshot()
        assert session.status.state is SourceState.CONSUMING


async def group_members(broker: Broker, group: str) -> int:
    """Members of ``group`` by DescribeGroups, independent of kconsume."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = (await admin.describe_consumer_groups([group]))[0].groups[0]
        return len(described[5])
    finally:
        await admin.close()


def hung_app(broker: Broker, group: str, topic: str) -> tuple[App, list[EngineEvent]]:
    """billing hangs on offset 2 for good; the stop would wait a minute for it."""
    app, events = watched(broker, group, stop_drain_timeout=60)

    @app.agent(topic, name="billing")
    async def billing(stream: Stream) -> None:
        async for event in stream:
            if event.offset == 2:
                await asyncio.Event().wait()

    return app, events


def of(events: list[EngineEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_a_stop_says_at_once_what_it_waits_for_and_a_second_request_ends_it(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 5)
    app, events = hung_app(broker, "stuck-stop", topic)
    tp = TP(topic, 0)
    await app.start()
    await wait_for(lambda: app.watchdog.livelock_warned(tp), what="blocked at 2")
    app.request_stop()
    stop = asyncio.create_task(app.stop())
    await wait_for(lambda: of(events, StopStarted), what="the stop says what it waits for")
    [started] = of(events, StopStarted)
    assert started.held == {tp: (2,)} and started.streams == ("billing",)
    assert f"waiting up to 60s for billing to finish {topic}[0]@2" in started.summary
    assert app.lifecycle is AppLifecycle.STOPPING
    assert app.stop_progress().startswith(f"waiting 60s more for billing on {topic}[0]@2")
    began = time.monotonic()
    app.request_stop()  # the second q
    await asyncio.wait_for(stop, 5)
    assert time.monotonic() - began < 3
    [left] = of(events, StopLeftUncommitted)
    assert left.held == {tp: (2,)} and left.why == "hurried"
    assert "it stays uncommitted" in left.summary
    assert app.lifecycle is AppLifecycle.STOPPED
    assert app.consumer.driver._client is None or app.consumer.driver._client._closed
    assert await group_members(broker, "stuck-stop") == 0
    assert (await group_committed(broker, "stuck-stop", topic))[0] == 2


async def test_a_second_ctrl_c_stops_at_once_leaves_the_group_and_closes_the_client(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 5)
    app, events = hung_app(broker, "stuck-ctrl-c", topic)
    tp = TP(topic, 0)
    run = asyncio.create_task(app.run())
    await wait_for(lambda: app.watchdog.livelock_warned(tp), what="blocked at 2")
    run.cancel()  # the first Ctrl-C (run_async cancels the command's task)
    await wait_for(lambda: of(events, StopStarted), what="the stop started")
    client = app.consumer.driver.client
    began = time.monotonic()
    run.cancel()  # the second Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 5)
    assert time.monotonic() - began < 3
    [left] = of(events, StopLeftUncommitted)
    assert left.held == {tp: (2,)}
    assert app.lifecycle is AppLifecycle.STOPPED and client._closed
    assert await group_members(broker, "stuck-ctrl-c") == 0
    assert (await group_committed(broker, "stuck-ctrl-c", topic))[0] == 2


async def test_headless_stops_the_progress_tables_once_the_stop_starts(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 5)
    app, events = hung_app(broker, "stuck-headless", topic)
    out = io.StringIO()
    run = asyncio.create_task(run_headless(app, every=0.1, out=out))
    await wait_for(lambda: "BLOCKED" in out.getvalue(), what="a table showing the block")
    run.cancel()  # Ctrl-C
    await wait_for(lambda: "stopping: waiting up to 60s" in out.getvalue(), what="said at once")
    said = len(out.getvalue())
    await wait_for(lambda: app.stop_progress().startswith("waiting 59s"), what="a second later")
    assert "delivered" not in out.getvalue()[said:]  # no table since the stop began
    run.cancel()  # the second Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 5)
    assert of(events, StopLeftUncommitted)


async def test_the_dashboard_says_what_the_stop_waits_for_and_prints_what_stays_uncommitted(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 5)
    app, _ = hung_app(broker, "stuck-dashboard", topic)
    tp = TP(topic, 0)
    session = TailSession.attach(app, broker=broker.url, topics=[topic])
    dashboard = DashboardApp(session, tz=UTC)
    err = io.StringIO()
    left: list[EngineEvent] = []
    async with session, dashboard.run_test(size=(160, 50)) as pilot:
        session.subscribe(left.append)
        await wait_for(lambda: blocked_longest(session.snapshot()) == (tp, 2), what="blocked")
        await pilot.press("q")
        await wait_for(
            lambda: f"waiting 60s more for billing on {topic}[0]@2" in session.status.detail,
            what="STOPPING says what it waits for",
        )
        assert "q again stops now" in session.status.detail
        await pilot.press("q")
        await wait_for(lambda: session.done, 5, "stopped at once")
    print_left_uncommitted(left, err)
    assert f"{topic}[0]@2: it stays uncommitted" in err.getvalue()


async def test_the_loop_blocked_warning_names_the_agent_its_record_and_the_line(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 3)
    app, events = watched(broker, "stuck-loop", loop_block_threshold=0.4)

    @app.agent(topic, name="billing")
    async def billing(stream: Stream) -> None:
        async for event in stream:
            if event.offset == 1:
                time.sleep(1.0)  # the mistake under test: a blocking call in a handler

    async with app:
        await wait_for(lambda: of(events, LoopBlockedWarning), what="loop blocked")
    [warning] = of(events, LoopBlockedWarning)
    assert warning.culprit is not None
    assert warning.culprit.startswith(f"agent billing on {topic}[0]@1, task kconsume-agent-billing")
    assert "test_stuck_handlers.py:" in warning.culprit and warning.culprit.endswith("in billing")
    assert f"Agent billing on {topic}[0]@1" in warning.summary


async def test_the_loop_blocked_warning_names_a_plain_task(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 1)
    app, events = watched(broker, "stuck-loop-task", loop_block_threshold=0.4)
    app.stream(topic, name="idle")

    def crunch() -> None:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # CPU-bound, no await
            pass

    async def report() -> None:
        crunch()

    async with app:
        await wait_for(lambda: app.snapshot().partitions, what="assigned")
        await asyncio.create_task(report(), name="nightly-report")
        await wait_for(lambda: of(events, LoopBlockedWarning), what="loop blocked")
    [warning] = of(events, LoopBlockedWarning)
    assert warning.culprit is not None
    assert warning.culprit.startswith("task nightly-report (")
    assert "report" in warning.culprit and warning.culprit.endswith("in crunch")


async def test_skipping_one_record_of_a_take_batch_does_not_drop_the_batch(
    broker: Broker, topic_name: str, produce: Produce
) -> None:
    topic = await one_partition(broker, topic_name, produce, 4)
    app, _ = watched(broker, "stuck-batch")
    release = asyncio.Event()
    done: list[list[int]] = []

    @app.agent(topic, name="store")
    async def store(stream: Stream) -> None:
        async for batch in stream.take(4, within=5.0):
            await release.wait()
            done.append([e.offset for e in batch])

    tp = TP(topic, 0)
    async with app:
        await wait_for(lambda: len(app.conductor.streams[0].in_hand()) == 4, what="a batch")
        skipped = app.skip(tp, 0)
        assert skipped is not None and skipped.batched == ("store",) and not skipped.cancelled
        assert "store still runs on a take() batch with it" in skipped.summary
        release.set()
        await wait_for(lambda: committed(app) == 4, what="the batch committed")
    assert done == [[0, 1, 2, 3]]
