"""Property tests of the Consumer: out-of-order acks, holes, transaction markers,
revocations, concurrent commits."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from kconsume.engine import TP, Message
from tests.fakes import FakeDriver, FakeTransport

TP0 = TP("t", 0)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("produce"), st.integers(1, 8), st.integers(0, 3)),
        st.tuples(st.just("markers"), st.integers(1, 3), st.just(0)),
        st.tuples(st.just("fetch"), st.integers(1, 10), st.just(0)),
        st.tuples(st.just("ack"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("commit"), st.integers(1, 4), st.integers(0, 3)),
        st.tuples(st.just("fail_commit"), st.just(0), st.just(0)),
        st.tuples(st.just("rebalance"), st.just(0), st.just(0)),
    ),
    max_size=40,
)


async def _run(ops: list[tuple[str, int, int]]) -> None:
    held: list[Message] = []
    stale: list[Message] = []

    async def on_message(message: Message) -> None:
        held.append(message)

    async def nothing(_: set[TP]) -> None:
        return None

    transport = FakeTransport()
    consumer = transport.create_consumer(
        on_message, nothing, nothing, commit_interval=3600, revoke_drain_timeout=0
    )
    driver = transport.driver
    assert isinstance(driver, FakeDriver)
    await driver.assign([TP0])
    processed: set[int] = set()
    last_committed = 0

    def check() -> None:
        nonlocal last_committed
        committed = driver.committed_offsets.get(TP0, 0)
        log_offsets = [r.offset for r in driver.log.get(TP0, ())]
        lost = [o for o in log_offsets if o < committed and o not in processed]
        assert not lost, f"committed {committed} past unprocessed offsets {lost}"
        assert committed >= last_committed, "commit moved backwards"
        last_committed = committed

    def ack(index: int) -> None:
        if held:
            message = held.pop(index % len(held))
            if consumer.ack(message):
                processed.add(message.offset)

    for op, a, b in ops:
        if op == "produce":
            driver.produce(TP0, a, skip=b)
        elif op == "markers":  # offsets that hold no record (a transaction's marker)
            driver.markers(TP0, a)
        elif op == "fetch":
            driver.batch_size = a
            await consumer._deliver_batch(await driver.getmany(0))
        elif op == "ack":
            ack(a)
        elif op == "commit":
            driver.commit_gate = asyncio.Event()
            calls = [asyncio.create_task(consumer.commit()) for _ in range(a)]
            await asyncio.sleep(0)
            for i in range(b):  # acks that land while the commit is in flight
                ack(i)
            driver.commit_gate.set()
            driver.commit_gate = None
            await asyncio.gather(*calls)
        elif op == "fail_commit":
            driver.fail_commits = RuntimeError("rebalance in progress")
            await consumer.commit()
            driver.fail_commits = None
        elif op == "rebalance":
            stale.extend(held)
            held.clear()
            await driver.revoke([TP0])
            await driver.assign([TP0])
        check()

    for message in stale:  # acks from an earlier assignment change nothing
        assert not consumer.ack(message)
    check()
    # finish: deliver and ack everything, then the commit reaches the log end
    driver.batch_size = 1_000
    while True:
        while held:
            ack(0)
        batch = await driver.getmany(0)
        await consumer._deliver_batch(batch)  # an empty fetch still passes markers
        if not batch:
            break
    await consumer.commit()
    check()
    end = driver.ends.get(TP0, 0)
    if end:  # markers after the last record never hold the commit back
        assert driver.committed_offsets[TP0] == end
    consumer.close()


@settings(max_examples=200, deadline=None)
@given(operations)
def test_consumer_never_commits_past_unprocessed_messages(ops: list[tuple[str, int, int]]) -> None:
    asyncio.run(_run(ops))
