"""Consumer, Conductor and Stream driven by an in-process fake driver (pure logic)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kconsume import App
from kconsume.engine import (
    TP,
    Codec,
    CommitCompleted,
    CommitFailed,
    DecodeError,
    EngineEvent,
    LivelockCleared,
    LivelockWarning,
    Message,
    MessageSkipped,
    RevokeDrainTimeout,
)
from kconsume.engine.consumer import DELIVERY_SLICE
from tests.fakes import FakeDriver, FakeTransport
from tests.helpers import wait_for

T0, T1 = TP("orders", 0), TP("orders", 1)


def make_app(**kwargs: Any) -> tuple[App, FakeDriver, list[EngineEvent]]:
    transport = FakeTransport()
    kwargs.setdefault("commit_interval", 3600)
    kwargs.setdefault("stop_drain_timeout", 0.2)
    app = App(transport=transport, **kwargs)
    assert transport.driver is not None
    events: list[EngineEvent] = []
    app.events.subscribe(events.append)
    return app, transport.driver, events


def counting_codec(name: str, calls: list[bytes]) -> Codec:
    def decode(data: bytes) -> bytes:
        calls.append(data)
        return data

    return Codec(name, decode)


async def test_refcount_is_number_of_streams_and_shared_codec_decodes_once() -> None:
    app, driver, _ = make_app()
    calls: list[bytes] = []
    shared = counting_codec("counting", calls)
    streams = [app.stream("orders", value=shared, name=f"s{i}") for i in range(3)]
    seen: list[Message] = []

    def on_slice(messages: list[Message]) -> None:
        app.conductor.on_slice(messages)
        seen.extend(messages)
        assert all(m.refcount == 3 for m in messages)  # set before any stream could run

    app.consumer.slice_callback = on_slice
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 5)
    await wait_for(lambda: len(seen) == 5)
    assert len(calls) == 5  # one decode per message, not one per stream
    events = [s._buffer[0] for s in streams]
    assert events[0] is events[1] is events[2]  # one Event shared by the codec group

    async def read(stream: Any, n: int) -> None:
        count = 0
        async for _ in stream:
            count += 1
            if count == n:
                break

    await asyncio.gather(*(read(s, 5) for s in streams))
    await wait_for(lambda: app.consumer.live == 0)
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 5
    await app.stop()


async def test_streams_with_different_codecs_decode_once_per_codec() -> None:
    app, driver, _ = make_app()
    a_calls: list[bytes] = []
    b_calls: list[bytes] = []
    app.stream("orders", value=counting_codec("a", a_calls), name="a1")
    app.stream("orders", value=counting_codec("a2", b_calls), name="b1")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 4)
    await wait_for(lambda: len(a_calls) == 4 and len(b_calls) == 4)
    await app.stop()


@pytest.mark.parametrize("how", ["break", "continue", "exception", "normal"])
async def test_stream_finally_acks_however_the_loop_body_ends(how: str) -> None:
    app, driver, _ = make_app()
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 3)
    handled = []

    async def body() -> None:
        async for event in stream:
            handled.append(event.offset)
            if how == "break" and event.offset == 0:
                break
            if how == "continue" and len(handled) < 3:
                continue
            if how == "exception":
                raise ValueError("handler failed")
            if len(handled) == 3:
                break

    if how == "exception":
        with pytest.raises(ValueError):
            await body()
    else:
        await body()
    state = app.consumer.partition_states()[T0]
    await wait_for(lambda: state.find(0) is None, what="offset 0 acked")
    await app.stop()


async def test_topic_without_streams_is_acked_at_once() -> None:
    app, driver, _ = make_app()
    app.stream("orders")
    await app.start()
    other = TP("audit", 0)
    await driver.assign([other])
    driver.produce(other, 3)
    state = app.consumer.partition_states()[other]
    await wait_for(lambda: state.delivered_end == 3 and not state.slices)
    await app.stop()


async def test_decode_error_is_counted_reported_and_does_not_block() -> None:
    app, driver, events = make_app()
    stream = app.stream("orders", value="json")
    raw = app.stream("orders", name="raw")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 1, value=b'{"ok": 1}')
    driver.produce(T0, 1, value=b"{not json")
    driver.produce(T0, 1, value=b'{"ok": 3}')
    got = []

    async def read_json() -> None:
        async for event in stream:
            got.append(event.value)
            if len(got) == 2:
                break

    async def read_raw() -> None:
        n = 0
        async for _ in raw:
            n += 1
            if n == 3:
                break

    await asyncio.gather(read_json(), read_raw())
    assert got == [{"ok": 1}, {"ok": 3}]
    assert stream.decode_errors == 1 and raw.decode_errors == 0
    errors = [e for e in events if isinstance(e, DecodeError)]
    assert [(e.offset, e.streams) for e in errors] == [(1, ("orders",))]
    await wait_for(lambda: not app.consumer.partition_states()[T0].slices)
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 3
    await app.stop()


async def test_full_buffer_pauses_only_its_own_partitions() -> None:
    app, driver, _ = make_app(stream_buffer_maxsize=10)
    slow = app.stream("orders", name="slow")
    fast = app.stream("audit", name="fast")
    audit = TP("audit", 0)
    await app.start()
    await driver.assign([T0, T1, audit])
    driver.batch_size = 4

    async def drain(stream: Any, n: int) -> None:
        count = 0
        async for _ in stream:
            count += 1
            if count == n:
                break

    reading_fast = asyncio.create_task(drain(fast, 30))
    driver.produce(T0, 30)
    driver.produce(audit, 30)
    await wait_for(lambda: slow.paused, what="slow stream paused")
    assert driver.paused == {T0, T1}  # the slow stream's partitions, not audit
    await reading_fast  # audit kept flowing while orders was paused
    assert len(slow._buffer) < 10 + driver.batch_size  # bounded by maxsize plus one batch
    await drain(slow, 30)
    assert not driver.paused
    await app.stop()


async def test_revoke_drops_buffered_drains_current_and_commits_before_it() -> None:
    app, driver, events = make_app(revoke_drain_timeout=5)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 10)
    release = asyncio.Event()
    started = asyncio.Event()

    async def worker() -> None:
        async for event in stream:
            if event.offset == 3:
                started.set()
                await release.wait()

    task = asyncio.create_task(worker())
    await started.wait()
    revoke = asyncio.create_task(driver.revoke([T0]))
    await wait_for(lambda: not stream._buffer, what="buffer purged")
    assert not revoke.done()  # waiting for offset 3 to finish
    release.set()
    await revoke
    # 0..3 processed; 4.. were buffered, dropped, uncommitted: the next owner gets them
    assert driver.committed_offsets[T0] == 4
    assert not any(isinstance(e, RevokeDrainTimeout) for e in events)
    assert app.consumer.assignment() == frozenset()
    task.cancel()
    await app.stop()


async def test_revoke_drain_timeout_reports_held_offsets() -> None:
    app, driver, events = make_app(revoke_drain_timeout=0.05)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 3)
    started = asyncio.Event()

    async def stuck() -> None:
        async for event in stream:
            if event.offset == 1:
                started.set()
                await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await started.wait()
    await driver.revoke([T0])
    timeouts = [e for e in events if isinstance(e, RevokeDrainTimeout)]
    assert len(timeouts) == 1 and timeouts[0].held == {T0: (1,)}
    assert driver.committed_offsets[T0] == 1  # offset 0 was processed, 1 was not
    task.cancel()
    await app.stop()


async def test_late_ack_after_revoke_changes_nothing() -> None:
    app, driver, _ = make_app(revoke_drain_timeout=0.01)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 2)
    await wait_for(lambda: len(stream._buffer) == 2)
    message = stream._buffer[0].message
    stream._buffer.clear()  # simulate a reader holding it across the revoke
    await driver.revoke([T0])
    await driver.assign([T0])
    message.refcount = 1
    assert message.decref()
    assert not app.consumer.ack(message)
    assert app.consumer.partition_states()[T0].committed == 0  # never past held offset 0
    await app.stop()


async def test_commit_failure_keeps_offset_and_is_reported() -> None:
    app, driver, events = make_app()
    app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 2)
    stream = app.conductor.streams[0]
    n = 0
    async for _ in stream:
        n += 1
        if n == 2:
            break
    await wait_for(lambda: not app.consumer.partition_states()[T0].slices)
    driver.fail_commits = RuntimeError("coordinator not available")
    assert not await app.consumer.commit()
    state = app.consumer.partition_states()[T0]
    assert state.committed is None and state.commits_failed == 1
    failed = [e for e in events if isinstance(e, CommitFailed)]
    assert failed and "coordinator not available" in failed[0].error
    driver.fail_commits = None
    assert await app.consumer.commit()
    assert state.committed == 2
    await app.stop()


async def test_concurrent_commits_coalesce_without_stale_answers() -> None:
    app, driver, _ = make_app()
    consumer = app.consumer
    app.stream("orders")
    await app.start()
    await driver.assign([T0])
    state = consumer.partition_states()[T0]
    messages = [Message(T0, i, 0, None, b"", ()) for i in range(6)]
    for m in messages:
        assert consumer.track_message(m)
    consumer.ack(messages[0])
    driver.commit_gate = asyncio.Event()
    first = asyncio.create_task(consumer.commit())  # commits up to 1, held at the gate
    await wait_for(lambda: driver.commit_calls)
    consumer.ack(messages[1])
    consumer.ack(messages[2])
    second = asyncio.create_task(consumer.commit())  # wants 3: must not accept first's 1
    third = asyncio.create_task(consumer.commit())
    await asyncio.sleep(0)
    driver.commit_gate.set()
    assert await first and await second and await third
    assert state.committed == 3
    assert driver.commit_calls == [{T0: 1}, {T0: 3}]  # second and third coalesced
    await app.stop()


async def test_livelock_warning_names_the_blocking_offset_and_clears() -> None:
    app, driver, events = make_app(
        commit_interval=0.01, commit_livelock_soft_timeout=0.05, watchdog_interval=0.01
    )
    stuck_stream = app.stream("orders")
    other_stream = app.stream("audit")
    audit = TP("audit", 0)
    await app.start()
    await driver.assign([T0, audit])
    release = asyncio.Event()

    async def stuck_worker() -> None:
        async for event in stuck_stream:
            if event.offset == 2:
                await release.wait()

    async def other_worker() -> None:
        async for _ in other_stream:
            pass

    tasks = [asyncio.create_task(stuck_worker()), asyncio.create_task(other_worker())]
    driver.produce(T0, 5)
    driver.produce(audit, 5)
    await wait_for(lambda: any(isinstance(e, LivelockWarning) for e in events))
    warning = next(e for e in events if isinstance(e, LivelockWarning))
    assert warning.tp == T0 and warning.blocking_offset == 2 and warning.committed == 2
    states = app.consumer.partition_states()
    await wait_for(lambda: states[audit].committed == 5)  # the other partition is not blocked
    assert not any(isinstance(e, LivelockWarning) and e.tp == audit for e in events)
    release.set()
    await wait_for(lambda: any(isinstance(e, LivelockCleared) for e in events))
    await wait_for(lambda: states[T0].committed == 5)
    assert any(isinstance(e, CommitCompleted) for e in events)
    for task in tasks:
        task.cancel()
    await app.stop()


async def test_snapshot_reports_partitions_and_streams() -> None:
    app, driver, _ = make_app()
    stream = app.stream("orders", name="s")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 4)
    await wait_for(lambda: len(stream._buffer) == 4)
    iterator = stream.__aiter__()
    first = await iterator.__anext__()
    snap = app.snapshot()
    p = snap.partition(T0)
    assert p is not None
    assert (p.committed, p.delivered_end, p.highwater, p.inflight) == (None, 4, 4, 4)
    assert p.oldest_inflight == 0 and p.last_delivered == 3
    s = snap.stream("s")
    assert s is not None
    assert (s.current, s.current_offset, s.buffer_depth, s.held) == (T0, 0, 3, 4)
    assert first.offset == 0
    await iterator.aclose()  # the finally acks offset 0
    p2 = app.snapshot().partition(T0)
    assert p2 is not None and p2.oldest_inflight == 1
    await app.stop()


async def test_observing_with_no_subscriber_is_a_no_op() -> None:
    app, _, _ = make_app()
    bus = app.events
    bus._subscribers = ()
    assert not bus.listening
    bus.publish(CommitCompleted(offsets={}, duration=0.0))  # nothing to call, nothing raised


async def test_wait_empty_and_stop_leave_unstarted_messages_uncommitted() -> None:
    app, driver, _ = make_app()
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 5)
    await wait_for(lambda: len(stream._buffer) == 5)
    iterator = stream.__aiter__()
    await iterator.__anext__()  # offset 0 started
    stop = asyncio.create_task(app.stop())
    await wait_for(lambda: not stream._buffer)  # 1..4 dropped, 0 still processing
    assert not stop.done()
    await iterator.aclose()
    await stop
    assert driver.committed_offsets[T0] == 1


async def test_two_waiters_both_wake_when_everything_is_acked() -> None:
    app, driver, _ = make_app()
    consumer = app.consumer
    app.stream("orders")
    await app.start()
    await driver.assign([T0])
    message = Message(T0, 0, 0, None, b"", ())
    assert consumer.track_message(message)
    first = asyncio.create_task(consumer.wait_empty())
    second = asyncio.create_task(consumer.wait_empty(30))
    await asyncio.sleep(0)
    consumer.ack(message)
    assert await asyncio.wait_for(first, 5) and await asyncio.wait_for(second, 5)
    await app.stop()


async def test_skipping_out_of_a_full_buffer_resumes_its_partitions() -> None:
    app, driver, events = make_app(stream_buffer_maxsize=2)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.batch_size = 3
    driver.produce(T0, 3)
    await wait_for(lambda: stream.paused and T0 in driver.paused, what="paused")
    state = app.consumer.partition_states()[T0]
    assert state.delivered_end == 3  # the slice went in whole: the buffer passed maxsize
    for offset in (0, 1):
        assert app.skip(T0, offset)
    assert not stream.paused and T0 not in driver.paused  # nothing else would resume it
    assert not app.skip(T0, 0)  # no longer in flight
    assert app.skip(T0, 2)
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 3
    assert sum(isinstance(e, MessageSkipped) for e in events) == 3
    await app.stop()


# -- offsets that hold no records (transaction markers, compaction) -------------------


async def test_trailing_markers_never_hold_the_commit_back() -> None:
    app, driver, _ = make_app()
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 5)
    driver.markers(T0)  # a transaction's commit marker after the last record
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 5:
            break
    state = app.consumer.partition_states()[T0]
    await wait_for(lambda: not state.slices, what="the last message's ack")
    await wait_for(lambda: state.position == 6, what="the position past the marker")
    assert state.delivered_end == 5 and state.consumed_end == 6
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 6  # the group's lag is 0, not 1
    snapshot = app.snapshot().partition(T0)
    assert snapshot is not None and snapshot.lag == 0 and snapshot.delivered_end == 6
    await app.stop()


async def test_a_marker_alone_moves_an_idle_partition() -> None:
    app, driver, _ = make_app()
    app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.markers(T0, 2)  # an empty transaction, committed and aborted: no records
    state = app.consumer.partition_states()[T0]
    await wait_for(lambda: state.position == 2, what="the position past both markers")
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 2
    await app.stop()


async def test_position_never_passes_records_given_back_by_a_full_buffer() -> None:
    """A fetch of more than one slice: the buffer fills on the first slice, the rest of
    the fetch is given back, and the position stays at the first record not delivered."""
    app, driver, _ = make_app(stream_buffer_maxsize=10)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    total = DELIVERY_SLICE * 2 + 50
    driver.batch_size = total
    driver.produce(T0, total)
    driver.markers(T0)
    state = app.consumer.partition_states()[T0]
    await wait_for(lambda: stream.paused, what="the full buffer pausing the partition")
    # Everything below the position was delivered: the rest was given back.
    assert state.delivered_end == DELIVERY_SLICE
    assert state.position is not None and state.position <= DELIVERY_SLICE
    assert driver.positions[T0] == DELIVERY_SLICE
    assert not await app.consumer.commit() or driver.committed_offsets[T0] <= 11
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == total:
            break
    await wait_for(lambda: not state.slices, what="the last message's ack")
    await wait_for(lambda: state.position == total + 1, what="the position at the log end")
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == total + 1
    await app.stop()


def test_consumer_stopped_errors_is_a_class_attribute_each_transport_overrides() -> None:
    from aiokafka.errors import ConsumerStoppedError

    from kconsume.engine import Consumer
    from kconsume.engine.transport.aiokafka import KafkaConsumer

    assert Consumer.consumer_stopped_errors == ()
    assert KafkaConsumer.consumer_stopped_errors == (ConsumerStoppedError,)
    assert App("kafka://localhost:9092").consumer.consumer_stopped_errors == (ConsumerStoppedError,)


# -- assignments being set up (review of issue 8) ---------------------------------------


async def test_nothing_is_fetched_for_an_assignment_still_being_set_up() -> None:
    from kconsume.engine import StartAt

    app, driver, _ = make_app(start_at=StartAt("end"))
    stream = app.stream("orders")
    await app.start()
    driver.committed_offsets[T0] = 0  # T0 resumes at 0; T1 has no committed offset
    driver.produce(T0, 5)
    slow_start = driver.start_offsets
    started = asyncio.Event()

    async def slow_start_offsets(tps: Any, start: Any) -> Any:
        started.set()
        await asyncio.sleep(0.2)  # as aiokafka's probe client takes a while
        return await slow_start(tps, start)

    driver.start_offsets = slow_start_offsets  # type: ignore[method-assign]
    assigning = asyncio.create_task(driver.assign([T0, T1]))
    await started.wait()
    assert {T0, T1} <= driver.paused  # no fetch while the bookkeeping is not there
    await assigning
    assert not driver.paused
    await wait_for(lambda: stream.buffered == 5, what="all five records delivered")
    assert app.consumer.dropped_total == 0
    await app.stop()


async def test_records_for_a_partition_without_bookkeeping_are_given_back() -> None:
    app, driver, _ = make_app()
    app.stream("orders")  # not started: this test is the fetch loop
    driver.assigned.add(T0)  # the client has it; the engine was not told yet
    driver.positions[T0] = 3  # as after a fetch that returned 0..2
    driver.produce(T0, 3)
    await app.consumer._deliver_batch({T0: driver.log[T0]})
    assert driver.positions[T0] == 0  # fetched again once the engine tracks it
    assert app.consumer.partition_states() == {}


async def test_a_failure_setting_up_an_assignment_crashes_the_app() -> None:
    from kconsume.engine import StartAt
    from kconsume.engine.transport.base import EndUnknownError

    app, driver, _ = make_app(start_at=StartAt("end"))
    app.stream("orders")
    await app.start()

    async def failing(tps: Any, start: Any) -> Any:
        raise EndUnknownError("could not confirm the end offset of orders[0]")

    driver.start_offsets = failing  # type: ignore[method-assign]
    await driver.assign([T0])  # the client would log and swallow an exception
    assert isinstance(app.crash_reason, EndUnknownError)
    await app.stop()


# -- the chaos run's faults, on the engine alone -----------------------------------------


async def test_revoke_in_the_middle_of_a_fetch_commits_before_the_oldest_unprocessed() -> None:
    app, driver, _ = make_app(revoke_drain_timeout=0.1)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.batch_size = 1000  # one fetch, delivered in slices of 256
    held: list[Message] = []
    processed = 0

    async def read() -> None:
        nonlocal processed
        async for event in stream:
            processed += 1
            if event.offset >= 300:  # written nowhere yet: kept unacked
                app.consumer.hold(event.message)
                held.append(event.message)

    reader = asyncio.create_task(read())
    driver.produce(T0, 1000)
    await wait_for(lambda: processed >= 400, what="a revoke mid-fetch")
    await driver.revoke([T0])  # records of that one fetch still buffered, held or unread
    assert driver.committed_offsets.get(T0, 0) <= 300
    reader.cancel()
    await app.stop()


async def test_commit_that_times_out_in_a_broker_freeze_leaves_the_committed_offset() -> None:
    app, driver, events = make_app(commit_timeout=0.1)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 10)
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 10:
            break
    await wait_for(lambda: not app.consumer.partition_states()[T0].slices)
    driver.commit_gate = asyncio.Event()  # the broker is frozen: no answer
    assert not await app.consumer.commit()
    assert T0 not in driver.committed_offsets
    assert app.consumer.partition_states()[T0].committed is None
    assert any(isinstance(e, CommitFailed) and "no answer" in e.error for e in events)
    driver.commit_gate.set()  # the broker is back: the next commit goes through
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 10
    await app.stop()


async def test_fetch_that_fails_mid_batch_stops_the_engine_and_commits_only_processed() -> None:
    app, driver, _ = make_app()
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0, T1])
    driver.produce(T0, 5)
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 5:
            break
    await wait_for(lambda: not app.consumer.partition_states()[T0].slices)
    real_getmany = driver.getmany

    async def failing(timeout: float) -> Any:
        # As aiokafka when one partition's records cannot be decoded: T1's records were
        # drained (its position moved), then the call raised, and they are lost to us.
        await real_getmany(timeout)
        raise RuntimeError("CorruptRecordException: invalid CRC")

    driver.getmany = failing  # type: ignore[method-assign]
    driver.produce(T1, 5)
    await wait_for(lambda: app.crash_reason is not None, what="the engine stopping")
    await app.stop()
    assert driver.committed_offsets.get(T0) == 5
    assert driver.committed_offsets.get(T1, 0) == 0  # never past records nobody processed


# -- Stream.take: batches ------------------------------------------------------------------


async def test_take_yields_batches_and_commits_a_batch_only_after_its_body() -> None:
    app, driver, _ = make_app()
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 25)
    sizes: list[int] = []
    committed_during: list[int | None] = []
    async for batch in stream.take(10, within=0.05):
        sizes.append(len(batch))
        assert [e.offset for e in batch] == list(range(sum(sizes) - len(batch), sum(sizes)))
        await app.consumer.force_commit()
        committed_during.append(driver.committed_offsets.get(T0))
        if sum(sizes) == 25:
            break
    assert sizes == [10, 10, 5]  # the last one after `within`, not waiting for ten
    # while a batch's body runs, nothing of it is committed
    assert committed_during == [0, 10, 20]
    await wait_for(lambda: not app.consumer.partition_states()[T0].slices)
    assert await app.consumer.commit()
    assert driver.committed_offsets[T0] == 25
    await app.stop()


async def test_a_stop_in_the_middle_of_a_batch_commits_none_of_it() -> None:
    app, driver, _ = make_app(stop_drain_timeout=0.1)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.produce(T0, 8)
    started = asyncio.Event()

    async def slow() -> None:
        async for batch in stream.take(5, within=1.0):
            assert stream.holds(batch[-1].message)
            assert stream.snapshot().held >= len(batch)
            started.set()
            await asyncio.sleep(3600)  # a handler stuck on its batch

    task = asyncio.create_task(slow())
    await started.wait()
    await app.stop()
    task.cancel()
    assert driver.committed_offsets.get(T0, 0) == 0  # the stuck batch starts at offset 0


async def test_take_larger_than_the_buffer_does_not_wait_on_its_own_pause() -> None:
    """A batch bigger than the stream's buffer: draining the full buffer into the batch
    resumes the partition at once, instead of waiting ``within`` for data it paused."""
    app, driver, _ = make_app(stream_buffer_maxsize=10)
    stream = app.stream("orders")
    await app.start()
    await driver.assign([T0])
    driver.batch_size = 10
    driver.produce(T0, 60)
    seen = 0

    async def read() -> list[int]:
        nonlocal seen
        sizes = []
        async for batch in stream.take(30, within=30.0):
            sizes.append(len(batch))
            seen += len(batch)
            if seen == 60:
                return sizes
        return sizes

    assert await asyncio.wait_for(read(), 10.0) == [30, 30]  # full batches, no 30 s wait
    await app.stop()


def test_take_needs_a_positive_size() -> None:
    app, _, _ = make_app()
    stream = app.stream("orders")
    with pytest.raises(ValueError, match="max_"):
        stream.take(0, within=1.0).__anext__().send(None)
