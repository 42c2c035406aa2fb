"""A scripted, deterministic :class:`~kconsume.tail.source.DashboardSource`.

Used by the dashboard's tests and screenshots: no broker, no engine, no wall clock.
It looks like the demo caught at a bad moment: four partitions of ``orders``, one
of them blocked by a message the ``billing`` stream has been on for 42.5 s, recent
orders in the tail, and a few past events.  Every ``snapshot()`` call advances its
clock by ``tick`` seconds and its counters by a fixed pattern, so rates and the
sparkline are the same on every run.  Controls are recorded (``paused``,
``commits``, ``filters``, ``skips``, ``stopped``) for tests to check.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from kconsume.engine.events import (
    CommitFailed,
    DecodeError,
    EngineEvent,
    LivelockWarning,
    MessageSkipped,
    PartitionsAssigned,
    RebalanceStarted,
)
from kconsume.engine.offsets import Range
from kconsume.engine.snapshot import EngineSnapshot, PartitionSnapshot, StreamSnapshot
from kconsume.engine.types import TP, Event, Message
from kconsume.tail.buffer import DEFAULT_BUFFER_SIZE, TailBuffer
from kconsume.tail.source import (
    BlockingRecord,
    Level,
    Notice,
    SourceState,
    SourceStatus,
    backpressure,
    blocked_longest,
    holders,
)

__all__ = ["ScriptedSource"]

#: 2026-01-15 12:00:00 UTC: "now" for the scripted source.
SCRIPT_NOW = 1_768_478_400.0
#: Messages delivered per tick, cycled (with ``tick=0.1``: 310 to 520 msg/s).
RATE_PATTERN = (38, 41, 44, 40, 36, 47, 52, 45, 39, 42, 31, 35)
_PRODUCTS = ("keyboard", "mouse", "monitor", "cable", "dock", "headset", "webcam", "lamp")


@dataclass(slots=True)
class _Partition:
    committed: int
    delivered_end: int
    highwater: int
    inflight_from: int
    """Offsets from here to ``delivered_end`` are in flight (held by billing)."""
    last_commit_age: float = 0.4
    last_commit_ok: bool = True
    last_commit_error: str | None = None
    commits_ok: int = 118
    commits_failed: int = 0
    blocked_for: float | None = None
    paused: bool = False
    next_offset: int = field(default=0)


class ScriptedSource:
    """A deterministic dashboard source (see the module docstring)."""

    def __init__(
        self,
        *,
        messages: int = 240,
        topic: str = "orders",
        group: str | None = "kconsume-demo",
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        tick: float = 0.1,
        now: float = SCRIPT_NOW,
        allow_skip: bool = False,
    ) -> None:
        self.broker = "kafka://127.0.0.1:9092"
        self.topics = (topic,)
        self.group = group
        self.topic = topic
        self.buffer = TailBuffer(buffer_size)
        self.tick = tick
        self.now = now
        self.at = 1000.0
        self.delivered_total = 4800
        self.ticks = 0
        self._rng = random.Random(7)
        self._order = 4800 - messages
        self._paused = False
        self._subscribers: tuple[Callable[[EngineEvent], None], ...] = ()
        #: What the dashboard did (for tests).
        self.commits = 0
        self.filters: list[str | None] = []
        self.stopped = False
        self.skips: list[tuple[TP, int]] = []
        self.can_skip = allow_skip
        self.state = SourceState.CONSUMING
        #: Billing's full buffer pauses every partition (3,596 of 4,096 buffered).
        self.backpressure = False
        self._last: EngineSnapshot | None = None
        self.partitions = {
            0: _Partition(committed=1190, delivered_end=1200, highwater=1200, inflight_from=1198),
            1: _Partition(committed=1210, delivered_end=1210, highwater=1210, inflight_from=1210),
            2: _Partition(
                committed=1180,
                delivered_end=1240,
                highwater=1252,
                inflight_from=1180,
                last_commit_age=0.6,
                commits_ok=97,
                blocked_for=41.0,
            ),
            3: _Partition(
                committed=1150,
                delivered_end=1180,
                highwater=1195,
                inflight_from=1175,
                last_commit_age=1.3,
                last_commit_ok=False,
                last_commit_error="RebalanceInProgressError",
                commits_failed=1,
            ),
        }
        per_partition = max(1, messages // len(self.partitions))
        for p in self.partitions.values():
            p.next_offset = p.delivered_end - per_partition
        self.processed = {"audit": 4790, "billing": 4602, "tail": 4800}
        self.history: list[EngineEvent] = [
            RebalanceStarted(at=now - 95.0),
            PartitionsAssigned(tps=frozenset(self._tps()), generation=1, at=now - 94.2),
            LivelockWarning(
                tp=TP(topic, 2),
                committed=1180,
                blocking_offset=1180,
                stalled_for=8.2,
                at=now - 33.0,
            ),
            DecodeError(
                tp=TP(topic, 3),
                offset=1168,
                streams=("audit", "billing"),
                error="JSONDecodeError: unexpected character: line 1 column 1 (char 0)",
                at=now - 20.5,
            ),
            CommitFailed(
                offsets={TP(topic, 3): 1175}, error="RebalanceInProgressError", at=now - 1.3
            ),
        ]
        self.add_messages(messages, backdate=True)

    def _tps(self) -> list[TP]:
        return [TP(self.topic, p) for p in self.partitions]

    # -- scripting --------------------------------------------------------------------

    def add_messages(self, count: int, *, backdate: bool = False) -> None:
        """Append ``count`` orders to the tail, spread over the partitions in turn."""
        partitions = sorted(self.partitions)
        for i in range(count):
            number = self._order
            self._order += 1
            p = partitions[number % len(partitions)]
            state = self.partitions[p]
            offset = state.next_offset
            state.next_offset += 1
            if offset >= state.delivered_end:
                state.delivered_end = offset + 1
                state.highwater = max(state.highwater, state.delivered_end)
            age = (count - i) * 0.025 if backdate else 0.0
            timestamp = int((self.now - age) * 1000)
            self.buffer.add(self._event(TP(self.topic, p), offset, number, timestamp, state))

    def _event(self, tp: TP, offset: int, number: int, timestamp: int, state: _Partition) -> Event:
        rng = self._rng
        customer = f"c{rng.randrange(1, 200):03d}"
        lines = [
            (rng.choice(_PRODUCTS), rng.randint(1, 3), rng.randint(5, 400))
            for _ in range(rng.randint(1, 3))
        ]
        value = {
            "order": number,
            "customer": customer,
            "items": [{"sku": sku, "qty": qty, "price": price} for sku, qty, price in lines],
            "total": sum(qty * price for _, qty, price in lines),
            "ts": round(timestamp / 1000, 3),
        }
        headers = [("source", b"web"), ("trace", f"t-{number:06d}".encode())]
        message = Message(tp, offset, timestamp, customer.encode(), orjson.dumps(value), headers)
        if offset >= state.inflight_from:
            message.refcount = 1
        else:
            message.acked = True
        return Event(message, customer, value)

    def set_state(self, state: SourceState) -> None:
        self.state = state

    # -- DashboardSource ----------------------------------------------------------------

    @property
    def status(self) -> SourceStatus:
        if self.stopped:
            return SourceStatus(SourceState.STOPPED)
        if self._paused:
            return SourceStatus(SourceState.PAUSED, "p resumes")
        pressure = backpressure(self._last) if self.state is SourceState.CONSUMING else None
        if pressure is not None:
            return SourceStatus(SourceState.BACKPRESSURE, pressure)
        return SourceStatus(self.state)

    @property
    def paused(self) -> bool:
        return self._paused

    def snapshot(self) -> EngineSnapshot:
        self.ticks += 1
        self.at += self.tick
        if not self._paused:
            step = RATE_PATTERN[self.ticks % len(RATE_PATTERN)]
            self.delivered_total += step
            for name in ("audit", "tail"):
                self.processed[name] += step
        partitions = tuple(
            self._partition(TP(self.topic, n), p) for n, p in self.partitions.items()
        )
        held = {
            TP(self.topic, n): p.inflight_from
            for n, p in self.partitions.items()
            if p.inflight_from < p.delivered_end
        }
        streams = (
            self._stream("audit", self.processed["audit"]),
            self._stream(
                "billing",
                self.processed["billing"],
                buffer_depth=3596
                if self.backpressure
                else sum(p.delivered_end - p.inflight_from for p in self.partitions.values()) - 1,
                paused=self.backpressure,
                current=TP(self.topic, 2),
                current_offset=1180,
                current_for=42.5,
                held_offsets=held,
            ),
            self._stream("tail", self.processed["tail"], key_codec="auto"),
        )
        self._last = EngineSnapshot(
            at=self.at,
            group_id=self.group,
            generation=1 if self.group else None,
            member_id="kconsume-7f3a9c2e-5d1b-4e8a-b6f0-2c9d8e7a1b3c" if self.group else None,
            rebalancing=self.state is SourceState.REBALANCING,
            delivered_total=self.delivered_total,
            partitions=partitions,
            streams=streams,
        )
        return self._last

    def _partition(self, tp: TP, p: _Partition) -> PartitionSnapshot:
        inflight = p.delivered_end - p.inflight_from
        acked = (Range(p.committed, p.inflight_from),) if p.inflight_from > p.committed else ()
        return PartitionSnapshot(
            tp=tp,
            committed=p.committed,
            delivered_end=p.delivered_end,
            highwater=p.highwater,
            lag=p.highwater - p.committed,
            inflight=inflight,
            oldest_inflight=p.inflight_from if inflight else None,
            oldest_inflight_age=(42.5 if p.blocked_for else 0.2) if inflight else None,
            acked_ranges=acked,
            last_commit_age=p.last_commit_age,
            last_commit_ok=p.last_commit_ok,
            last_commit_error=p.last_commit_error,
            commits_ok=p.commits_ok,
            commits_failed=p.commits_failed,
            stalled_for=p.blocked_for,
            livelock_warned=p.blocked_for is not None,
            paused=self._paused or p.paused or self.backpressure,
            paused_by=(("billing",) if self.backpressure else ())
            + (("user",) if self._paused or p.paused else ()),
        )

    def _stream(
        self,
        name: str,
        processed: int,
        *,
        key_codec: str = "raw",
        buffer_depth: int = 0,
        current: TP | None = None,
        current_offset: int | None = None,
        current_for: float | None = None,
        held_offsets: dict[TP, int] | None = None,
        paused: bool = False,
    ) -> StreamSnapshot:
        return StreamSnapshot(
            name=name,
            topics=self.topics,
            key_codec=key_codec,
            value_codec="json" if name != "tail" else "auto",
            buffer_depth=buffer_depth,
            buffer_maxsize=4096,
            paused=paused,
            processed=processed,
            decode_errors=1 if name != "tail" else 0,
            prefiltered=0,
            current=current,
            current_offset=current_offset,
            current_for=current_for,
            held=buffer_depth + (current is not None),
            held_offsets=held_offsets or {},
        )

    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Subscribe; the scripted history is replayed to the new subscriber at once."""
        self._subscribers = (*self._subscribers, callback)
        for event in self.history:
            callback(event)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def publish(self, event: EngineEvent) -> None:
        for subscriber in self._subscribers:
            subscriber(event)

    def notify(self, text: str, level: Level = "info") -> None:
        self.publish(Notice(text=text, level=level, at=self.now))

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.notify("paused: no partition is fetched" if paused else "resumed fetching")

    def set_filter(self, expression: str | None) -> None:
        self.buffer.set_filter(expression)
        self.filters.append(self.buffer.expression)
        self.notify(
            f"filter: {self.buffer.expression}" if self.buffer.expression else "filter cleared"
        )

    async def commit_now(self) -> str:
        self.commits += 1
        text = "nothing new to commit: orders[2] (blocked by @1180)"
        self.notify(f"commit now: {text}")
        return text

    async def stop(self) -> None:
        self.stopped = True

    def blocking_record(self) -> BlockingRecord | None:
        snapshot = self.snapshot()
        found = blocked_longest(snapshot)
        if found is None:
            return None
        tp, offset = found
        event = next(
            (e for e in self.buffer.view if e.message.tp == tp and e.message.offset == offset),
            None,
        )
        p = snapshot.partition(tp)
        if event is None or p is None:
            return None
        return BlockingRecord(
            event=event,
            inflight_for=p.oldest_inflight_age,
            blocked_for=p.stalled_for,
            holders=holders(snapshot, event.message),
        )

    def skip(self, tp: TP, offset: int) -> bool:
        """Record the skip; the partition's commit moves on past ``offset``."""
        p = self.partitions.get(tp.partition) if tp.topic == self.topic else None
        if not self.can_skip or p is None or p.inflight_from != offset:
            return False
        self.skips.append((tp, offset))
        p.inflight_from = p.committed = offset + 1
        p.blocked_for = None
        for event in self.buffer.view:
            if event.message.tp == tp and event.message.offset == offset:
                event.message.refcount = 0
                event.message.acked = True
        self.publish(MessageSkipped(tp=tp, offset=offset, streams=("billing",), at=self.now))
        return True
