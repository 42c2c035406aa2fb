"""Text rendering of engine snapshots and events, for ``kconsume run`` and ``demo --headless``."""

from __future__ import annotations

import time

from ..engine.events import (
    CommitCompleted,
    CommitStarted,
    EngineEvent,
    StopLeftUncommitted,
    WatchdogCleared,
    WatchdogWarning,
)
from ..engine.snapshot import EngineSnapshot
from ..tail.source import backpressure

__all__ = ["format_event", "format_progress", "shown_as_line"]

#: Events a headless run does not print: commits are too chatty, and the watchdog's
#: warnings and what a stop left are log lines on stderr already.
NOT_PRINTED = (
    CommitStarted | CommitCompleted | WatchdogWarning | WatchdogCleared | StopLeftUncommitted
)


def shown_as_line(event: EngineEvent) -> bool:
    """Whether a headless run prints ``event`` as a line of its own."""
    return not isinstance(event, NOT_PRINTED)


def _clock(at: float | None = None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def _value(value: int | None) -> str:
    return "-" if value is None else str(value)


def format_progress(snapshot: EngineSnapshot, rate: float) -> str:
    """A small table: per partition the committed offset, lag and what is in flight."""
    head = (
        f"{_clock()}  delivered {snapshot.delivered_total} ({rate:.0f}/s)  "
        f"group {snapshot.group_id or '-'} generation {_value(snapshot.generation)}"
        f"{'  REBALANCING' if snapshot.rebalancing else ''}"
    )
    pressure = backpressure(snapshot)
    if pressure is not None:
        head += f"\n  BACK-PRESSURE: {pressure}"
    rows = [
        head,
        f"  {'partition':<14}{'committed':>10}{'delivered':>10}{'highwater':>10}"
        f"{'lag':>6}{'in-flight':>10}  oldest in flight",
    ]
    for p in snapshot.partitions:
        oldest = (
            f"{p.oldest_inflight} ({p.oldest_inflight_age:.1f}s)"
            if p.oldest_inflight is not None and p.oldest_inflight_age is not None
            else "-"
        )
        flag = "  BLOCKED" if p.livelock_warned else ""
        if p.paused_by:
            flag += f"  paused by {', '.join(p.paused_by)}"
        rows.append(
            f"  {p.tp!s:<14}{_value(p.committed):>10}{_value(p.delivered_end):>10}"
            f"{_value(p.highwater):>10}{_value(p.lag):>6}{p.inflight:>10}  {oldest}{flag}"
        )
    for s in snapshot.streams:
        on = (
            f"on {s.current}@{s.current_offset} for {s.current_for:.1f}s"
            if s.current is not None and s.current_for is not None
            else "idle"
        )
        rows.append(
            f"  stream {s.name}: processed {s.processed}, buffer {s.buffer_depth}/"
            f"{s.buffer_maxsize}{' (full: its partitions are paused)' if s.paused else ''}, "
            f"holds {s.held}, {on}"
        )
    return "\n".join(rows)


def format_event(event: EngineEvent) -> str:
    return f"{_clock(event.at)}  event: {event.summary}"
