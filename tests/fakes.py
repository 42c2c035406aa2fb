"""An in-process driver for unit tests of the engine's pure logic (never for integration tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kconsume.engine.consumer import Consumer
from kconsume.engine.positions import StartAt
from kconsume.engine.transport.base import RebalanceHandler, RecordLike, Transport
from kconsume.engine.types import TP, Record


class FakeStopped(Exception):
    pass


class FakeDriver:
    """A partitioned log in memory, with pause/resume, commits and scripted rebalances."""

    def __init__(self, handler: RebalanceHandler, group_id: str | None = "g") -> None:
        self.handler = handler
        self.log: dict[TP, list[Record]] = {}
        #: Log end offsets (past trailing markers, which hold no records).
        self.ends: dict[TP, int] = {}
        self.positions: dict[TP, int] = {}
        self.assigned: set[TP] = set()
        self.paused: set[TP] = set()
        self.committed_offsets: dict[TP, int] = {}
        self.commit_calls: list[dict[TP, int]] = []
        self.fail_commits: Exception | None = None
        self.commit_gate: asyncio.Event | None = None
        self.batch_size = 100
        self.stopped = False
        self._group_id = group_id
        self._new_data = asyncio.Event()

    # -- test controls -------------------------------------------------------

    def produce(self, tp: TP, count: int = 1, *, value: bytes | None = b"v", skip: int = 0) -> None:
        """Append ``count`` records, leaving ``skip`` offsets out before them (a hole)."""
        records = self.log.setdefault(tp, [])
        offset = self.ends.get(tp, 0) + skip
        for i in range(count):
            records.append(Record(tp.topic, tp.partition, offset + i, 0, None, value))
        self.ends[tp] = offset + count
        self._new_data.set()

    def markers(self, tp: TP, count: int = 1) -> None:
        """Append ``count`` offsets that hold no data record (transaction markers)."""
        self.ends[tp] = self.ends.get(tp, 0) + count
        self._new_data.set()

    async def assign(self, tps: Iterable[TP]) -> None:
        tps = set(tps)
        self.assigned |= tps
        for tp in tps:
            self.positions[tp] = self.committed_offsets.get(tp, 0)
        await self.handler.on_partitions_assigned(tps)

    async def revoke(self, tps: Iterable[TP]) -> None:
        tps = set(tps)
        await self.handler.on_rebalance_started()
        await self.handler.on_partitions_revoked(tps)
        self.assigned -= tps
        self.paused -= tps

    # -- ConsumerDriver --------------------------------------------------------

    @property
    def group_id(self) -> str | None:
        return self._group_id

    generation = 1
    member_id = "fake-member"

    async def start(self, topics: Iterable[str]) -> None:
        self.topics = set(topics)

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, timeout: float) -> Mapping[TP, Sequence[RecordLike]]:
        if self.stopped:
            raise FakeStopped()
        batch: dict[TP, list[Record]] = {}
        for tp in sorted(self.assigned - self.paused):
            position = self.positions[tp]
            pending = [r for r in self.log.get(tp, ()) if r.offset >= position]
            records = pending[: self.batch_size]
            if records:
                batch[tp] = records
                self.positions[tp] = records[-1].offset + 1
            if len(records) == len(pending):  # read to the end: past any trailing markers
                self.positions[tp] = max(self.positions[tp], self.ends.get(tp, 0))
        if not batch:
            self._new_data.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_data.wait(), min(timeout, 0.05))
        return batch

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        self.commit_calls.append(dict(offsets))
        if self.commit_gate is not None:
            await self.commit_gate.wait()
        if self.fail_commits is not None:
            raise self.fail_commits
        self.committed_offsets.update(offsets)

    async def committed(self, tps: Iterable[TP]) -> dict[TP, int | None]:
        return {tp: self.committed_offsets.get(tp) for tp in tps}

    def highwater(self, tp: TP) -> int | None:
        return self.ends.get(tp, 0)

    def fetch_end(self, tp: TP) -> int | None:
        return self.highwater(tp)

    def fetch_positions(self) -> dict[TP, int]:
        return {tp: self.positions[tp] for tp in self.assigned if tp in self.positions}

    async def position(self, tp: TP) -> int | None:
        return self.positions.get(tp) if tp in self.assigned else None

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        return {tp: self.highwater(tp) or 0 for tp in tps}

    async def listed_end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        return await self.end_offsets(tps)

    async def start_offsets(self, tps: Iterable[TP], start: StartAt) -> dict[TP, int]:
        out = {}
        for tp in tps:
            end = self.highwater(tp) or 0
            out[tp] = {
                "beginning": 0,
                "offset": min(start.value, end),
                "from_end": max(0, end - start.value),
            }.get(start.kind, end)
        return out

    def seek(self, tp: TP, offset: int) -> None:
        self.positions[tp] = offset

    def pause(self, tps: Iterable[TP]) -> None:
        self.paused |= set(tps)

    def resume(self, tps: Iterable[TP]) -> None:
        self.paused -= set(tps)


class FakeConsumer(Consumer):
    consumer_stopped_errors: tuple[type[BaseException], ...] = (FakeStopped,)


class FakeTransport(Transport):
    def consumer_class(self) -> type[Consumer]:
        return FakeConsumer

    def __init__(self, group_id: str | None = "g", **settings: Any) -> None:
        super().__init__("fake://", None, **settings)
        self.group_id = group_id
        self.driver: FakeDriver | None = None

    def create_driver(self, handler: RebalanceHandler) -> FakeDriver:
        self.driver = FakeDriver(handler, self.group_id)
        return self.driver
