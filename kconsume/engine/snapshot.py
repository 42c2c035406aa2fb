"""Snapshots: cheap, immutable copies of the engine's state for observers.

Observers (the dashboard, ``demo --headless``, tests) call ``App.snapshot()`` on a
timer.  Nothing here runs unless somebody asks, so observing costs nothing while
nobody looks.  Offsets follow the engine convention ("next offset to consume",
half-open ranges).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .offsets import PartitionState, Range
from .stream import StreamSnapshot
from .types import TP

__all__ = ["EngineSnapshot", "PartitionSnapshot", "StreamSnapshot", "partition_snapshot"]


@dataclass(slots=True, frozen=True)
class PartitionSnapshot:
    tp: TP
    committed: int | None
    """Next offset to consume as committed for the group."""
    delivered_end: int | None
    """One past the last delivered offset, or past the offsets after it that held no
    record (a transaction's marker): :attr:`PartitionState.consumed_end`."""
    highwater: int | None
    lag: int | None
    inflight: int
    """Delivered messages not yet acked."""
    oldest_inflight: int | None
    """The offset holding the commit back."""
    oldest_inflight_age: float | None
    """Seconds since that message was delivered."""
    acked_ranges: tuple[Range, ...]
    last_commit_age: float | None
    last_commit_ok: bool | None
    last_commit_error: str | None
    commits_ok: int
    commits_failed: int
    stalled_for: float | None
    """Seconds the commit has not moved while work was pending (None: not stalled)."""
    livelock_warned: bool
    """A head-of-line warning stands and a record in flight blocks the commit (it is
    :attr:`oldest_inflight`).  Once that record is acked the flag drops at once, though
    the warning is cleared only when the commit moves: what shows BLOCKED always has a
    record to open (``b``) or skip (``s``)."""
    paused: bool
    paused_by: tuple[str, ...] = ()
    """Why it is paused: names of the streams whose full buffer paused it (back-pressure),
    and ``user`` for a pause asked for (``p``)."""

    @property
    def last_delivered(self) -> int | None:
        return None if self.delivered_end is None else self.delivered_end - 1


@dataclass(slots=True, frozen=True)
class EngineSnapshot:
    at: float
    """``time.monotonic()`` when it was taken."""
    group_id: str | None
    generation: int | None
    member_id: str | None
    rebalancing: bool
    delivered_total: int
    partitions: tuple[PartitionSnapshot, ...]
    streams: tuple[StreamSnapshot, ...]

    def partition(self, tp: TP) -> PartitionSnapshot | None:
        for p in self.partitions:
            if p.tp == tp:
                return p
        return None

    def stream(self, name: str) -> StreamSnapshot | None:
        for s in self.streams:
            if s.name == name:
                return s
        return None


class StallClocks(Protocol):
    """Who keeps the head-of-line clocks (the watchdog)."""

    def stalled_since(self, tp: TP) -> float | None: ...
    def livelock_warned(self, tp: TP) -> bool: ...


def partition_snapshot(
    state: PartitionState, now: float, stalled_since: float | None, livelock_warned: bool
) -> PartitionSnapshot:
    """``state`` as observers see it; the stall clock comes from the watchdog, its owner."""
    oldest = state.oldest_inflight
    delivered_at = state.oldest_delivered_at
    return PartitionSnapshot(
        tp=state.tp,
        committed=state.committed,
        delivered_end=state.consumed_end,
        highwater=state.highwater,
        lag=state.lag,
        inflight=state.inflight_count,
        oldest_inflight=oldest.offset if oldest is not None else None,
        oldest_inflight_age=now - delivered_at if delivered_at is not None else None,
        acked_ranges=tuple(state.acked_ranges()),
        last_commit_age=now - state.last_commit_at if state.last_commit_at is not None else None,
        last_commit_ok=state.last_commit_ok,
        last_commit_error=state.last_commit_error,
        commits_ok=state.commits_ok,
        commits_failed=state.commits_failed,
        stalled_for=now - stalled_since if stalled_since is not None else None,
        livelock_warned=livelock_warned and oldest is not None,
        paused=bool(state.paused_by),
        paused_by=tuple(sorted(state.paused_by)),
    )


def take_snapshot(
    *,
    states: Mapping[TP, PartitionState],
    streams: Iterable[StreamSnapshot],
    group_id: str | None,
    generation: int | None,
    member_id: str | None,
    rebalancing: bool,
    delivered_total: int,
    stall: StallClocks,
) -> EngineSnapshot:
    now = time.monotonic()
    return EngineSnapshot(
        at=now,
        group_id=group_id,
        generation=generation,
        member_id=member_id,
        rebalancing=rebalancing,
        delivered_total=delivered_total,
        partitions=tuple(
            partition_snapshot(states[tp], now, stall.stalled_since(tp), stall.livelock_warned(tp))
            for tp in sorted(states)
        ),
        streams=tuple(streams),
    )
