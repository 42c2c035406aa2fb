"""The engine's fast path against a reference model of the commit rule, step by step.

The engine tracks deliveries per slice and settles them by counting (docs/architecture.md).
The reference model here is the rule written the plainest way: a dict of in-flight
offsets with one refcount each, per generation of the assignment.  Hypothesis drives both
with the same random schedule (fetches with holes, readers finishing or holding their
event, releases, skips, values one codec cannot decode, revocations in the middle of a
slice, commits, and two commits at once) and after every step checks that the engine
would commit exactly what the model commits, and that every commit made agrees.

The engine runs whole (Consumer, Conductor, two Streams with their readers) on the
in-process driver of tests/fakes.py; slices are 3 records, so a fetch spans several.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from kconsume import App
from kconsume.engine import Codec, Message, Stream
from kconsume.engine.codecs import codec
from kconsume.engine.types import TP
from tests.fakes import FakeDriver, FakeTransport

TOPIC = "orders"
BAD = b"bad"


def failing_codec() -> Codec:
    def decode(data: bytes) -> bytes:
        if data == BAD:
            raise ValueError("cannot decode")
        return data

    return Codec("picky", decode)


# -- the schedule ------------------------------------------------------------------

Step = tuple[Any, ...]

steps = st.one_of(
    st.tuples(st.just("fetch"), st.integers(1, 8), st.integers(0, 2), st.integers(0, 255)),
    st.tuples(st.just("step"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("release"), st.integers(0, 5)),
    st.tuples(st.just("skip")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("commits at once")),
    st.tuples(st.just("revoke")),
)


# -- the reference model -----------------------------------------------------------


@dataclass
class Model:
    """The commit rule, plainly: in-flight offsets of this generation and their refcounts."""

    log: list[tuple[int, bytes]] = field(default_factory=list)
    generation: int = 0
    committed: int | None = None
    position: int = 0
    delivered_end: int | None = None
    refcounts: dict[int, int] = field(default_factory=dict)
    #: Per stream: the (generation, offset) its reader is on, and what is buffered.
    on: list[tuple[int, int] | None] = field(default_factory=lambda: [None, None])
    queues: list[deque[int]] = field(default_factory=lambda: [deque(), deque()])
    held: list[tuple[int, int]] = field(default_factory=list)

    def deliver(self, shared_codec: bool) -> None:
        for offset, value in self.log:
            if offset < self.position:
                continue
            receivers = [0, 1] if value != BAD else ([] if shared_codec else [0])
            self.delivered_end = offset + 1
            if receivers:
                self.refcounts[offset] = len(receivers)
            for i in receivers:
                self.queues[i].append(offset)
        if self.log:
            self.position = max(self.position, self.log[-1][0] + 1)
        self._advance()

    def _advance(self) -> None:
        for i in (0, 1):
            if self.on[i] is None and self.queues[i]:
                self.on[i] = (self.generation, self.queues[i].popleft())

    def decref(self, generation: int, offset: int) -> None:
        if generation != self.generation or offset not in self.refcounts:
            return  # a revoked generation, or already acked (a skip)
        self.refcounts[offset] -= 1
        if self.refcounts[offset] == 0:
            del self.refcounts[offset]

    def step(self, i: int, hold: bool) -> None:
        current = self.on[i]
        assert current is not None
        if hold:
            self.held.append(current)
        else:
            self.decref(*current)
        self.on[i] = None
        self._advance()

    def skip(self) -> int | None:
        if not self.refcounts:
            return None
        offset = min(self.refcounts)
        del self.refcounts[offset]
        for queue in self.queues:
            if offset in queue:
                queue.remove(offset)
        return offset

    def committable(self) -> int | None:
        target = min(self.refcounts) if self.refcounts else self.delivered_end
        if target is None or (self.committed is not None and target <= self.committed):
            return None
        return target

    def commit(self) -> None:
        target = self.committable()
        if target is not None:
            self.committed = target

    def revoke_and_reassign(self) -> None:
        """Buffered events are dropped (still in flight), what is acked is committed, and
        the next generation starts from the committed offset."""
        for queue in self.queues:
            queue.clear()
        self.commit()
        self.generation += 1
        self.refcounts = {}
        self.delivered_end = None
        self.position = self.committed or 0


# -- the engine under test ---------------------------------------------------------


class Engine:
    def __init__(self, shared_codec: bool) -> None:
        transport = FakeTransport()
        self.app = App(
            transport=transport,
            commit_interval=3600,
            revoke_drain_timeout=0.01,
            stop_drain_timeout=0.05,
        )
        assert transport.driver is not None
        self.driver: FakeDriver = transport.driver
        self.driver.batch_size = 10_000
        picky = failing_codec()
        codecs = (picky, picky) if shared_codec else (codec("raw"), picky)
        self.streams: list[Stream] = [
            self.app.stream(TOPIC, value=c, name=f"s{i}") for i, c in enumerate(codecs)
        ]
        self.permits: list[asyncio.Queue[bool]] = [asyncio.Queue(), asyncio.Queue()]
        self.held: list[Message] = []
        self.readers = [asyncio.create_task(self._read(i)) for i in (0, 1)]

    async def _read(self, i: int) -> None:
        consumer = self.app.consumer
        async for event in self.streams[i]:
            if await self.permits[i].get():
                consumer.hold(event.message)
                self.held.append(event.message)

    async def fetch(self) -> None:
        batch = await self.driver.getmany(0.0)
        await self.app.consumer._deliver_batch(batch)
        await settle(lambda: True)

    async def step(self, i: int, hold: bool) -> None:
        before = self.streams[i].processed
        self.permits[i].put_nowait(hold)
        await settle(lambda: self.streams[i].processed == before + 1)

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def settle(condition: Any) -> None:
    """Let the readers run until ``condition`` holds (no clock: a bounded number of turns)."""
    for _ in range(200):
        await asyncio.sleep(0)
        if condition():
            for _ in range(5):  # and whatever that wakes
                await asyncio.sleep(0)
            return
    raise AssertionError("the engine did not get there")


def gate_reached(driver: FakeDriver, calls_before: int) -> bool:
    """True once a commit reached the driver (and waits at its gate)."""
    return len(driver.commit_calls) > calls_before


async def run_schedule(shared_codec: bool, schedule: list[Step]) -> None:
    engine, model = Engine(shared_codec), Model()
    driver = engine.driver
    tp = TP(TOPIC, 0)
    await driver.assign([tp])
    consumer = engine.app.consumer
    try:
        for step in schedule:
            kind = step[0]
            if kind == "fetch":
                _, count, gap, bad_mask = step
                start = (model.log[-1][0] + 1 if model.log else 0) + gap
                for n in range(count):
                    value = BAD if bad_mask >> (n % 8) & 1 and n % 3 == 0 else b"v"
                    driver.produce(tp, 1, value=value, skip=gap if n == 0 else 0)
                    model.log.append((start + n, value))
                await engine.fetch()
                model.deliver(shared_codec)
            elif kind == "step":
                _, i, hold = step
                if model.on[i] is None:
                    continue
                await engine.step(i, hold)
                model.step(i, hold)
            elif kind == "release":
                if not model.held:
                    continue
                j = step[1] % len(model.held)
                consumer.release(engine.held.pop(j))
                model.decref(*model.held.pop(j))
            elif kind == "skip":
                offset = model.skip()
                if offset is None:
                    continue
                assert engine.app.skip(tp, offset)
                await settle(lambda: True)
            elif kind == "commit":
                await consumer.commit()
                model.commit()
            elif kind == "commits at once":
                driver.commit_gate = asyncio.Event()
                first = asyncio.create_task(consumer.commit())
                if model.committable() is not None:
                    await settle(partial(gate_reached, driver, len(driver.commit_calls)))
                second = asyncio.create_task(consumer.commit())
                await settle(lambda: True)
                driver.commit_gate.set()
                await asyncio.gather(first, second)
                driver.commit_gate = None
                model.commit()
            elif kind == "revoke":
                await driver.revoke([tp])
                model.revoke_and_reassign()
                await driver.assign([tp])
            # The same commit, at every step.
            assert driver.committed_offsets.get(tp) == model.committed, step
            state = consumer.partition_states()[tp]
            assert state.committable() == model.committable(), (step, model)
        await consumer.commit()
        model.commit()
        assert driver.committed_offsets.get(tp) == model.committed
    finally:
        await engine.close()


@settings(max_examples=150, deadline=None)
@given(shared_codec=st.booleans(), schedule=st.lists(steps, min_size=1, max_size=40))
def test_fast_path_commits_what_the_reference_model_commits(
    shared_codec: bool, schedule: list[Step]
) -> None:
    with mock.patch("kconsume.engine.consumer.DELIVERY_SLICE", 3):
        asyncio.run(run_schedule(shared_codec, schedule))
