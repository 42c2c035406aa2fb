"""The ribbon: a partition's uncommitted window drawn as a row of cells.

From left to right: the committed offset, then the delivered offsets that are done
(acked) or still in flight (the holes that hold the commit back), then the delivered
end, then what the broker has that was not delivered yet, up to the highwater.  Each
cell covers a span of offsets; a cell holding any in-flight offset shows as in flight,
so one stuck offset stays visible among thousands.

The delivered window and the undelivered tail are scaled separately: when both exist
the window gets at least two thirds of the width (or one cell per offset when it is
small), so a large lag never squeezes the window into nothing.  The numbers beside the
ribbon say how large each part really is.
"""

from __future__ import annotations

from enum import Enum

from ..engine.snapshot import PartitionSnapshot

__all__ = ["LEGEND", "SHORT_LEGEND", "Cell", "ribbon_cells", "ribbon_runs"]

#: What the ribbon's cells mean, left to right, wherever the dashboard says it.
LEGEND = "committed → █ acked ▒ in flight ▓ blocking ░ not delivered → highwater"
#: The same, for the Partitions panel's header line.
SHORT_LEGEND = "█ acked ▒ in flight ▓ blocking ░ not delivered"


class Cell(Enum):
    ACKED = "acked"
    """Delivered and done by every stream (committable)."""
    INFLIGHT = "inflight"
    """Holds at least one delivered offset some stream has not finished."""
    BLOCKER = "blocker"
    """Holds the offset that blocks a commit the engine warned about."""
    UNDELIVERED = "undelivered"
    """In the log, not delivered yet (lag beyond the delivered end)."""
    CAUGHT_UP = "caught-up"
    """Nothing uncommitted: committed = delivered end = highwater."""
    UNKNOWN = "unknown"
    """Nothing known yet (no offsets)."""


def _inflight_spans(p: PartitionSnapshot, start: int, end: int) -> list[tuple[int, int]]:
    """The in-flight offsets of ``[start, end)`` as half-open spans: the complement of
    the acked ranges (which the engine derives from the in-flight offsets)."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for r in p.acked_ranges:
        if r.end <= cursor:
            continue
        if r.start >= end:
            break
        if r.start > cursor:
            spans.append((cursor, r.start))
        cursor = max(cursor, r.end)
    if cursor < end:
        spans.append((cursor, end))
    if p.inflight == 0:  # nothing in flight: the gaps are offsets never delivered
        return []
    return spans


def ribbon_cells(p: PartitionSnapshot, width: int) -> list[Cell]:
    """``width`` cells drawing ``p``'s uncommitted window and undelivered tail."""
    if width <= 0:
        return []
    delivered = p.delivered_end
    if p.committed is not None:
        origin: int | None = p.committed
    elif p.oldest_inflight is not None:
        origin = p.oldest_inflight
    else:
        origin = delivered
    if origin is None:
        if p.highwater is None:
            return [Cell.UNKNOWN] * width
        origin = p.highwater
    window_end = max(delivered if delivered is not None else origin, origin)
    highwater = max(p.highwater if p.highwater is not None else window_end, window_end)
    window = window_end - origin
    tail = highwater - window_end
    if window == 0 and tail == 0:
        return [Cell.CAUGHT_UP] * width
    if tail == 0:
        window_cells = width
    elif window == 0:
        window_cells = 0
    else:
        share = round(width * window / (window + tail))
        window_cells = max(share, min(window, width * 2 // 3), 1)
        window_cells = min(window_cells, width - 1) if width > 1 else width
    cells: list[Cell] = []
    if window_cells:
        spans = _inflight_spans(p, origin, window_end)
        blocked_at = p.oldest_inflight if p.livelock_warned else None
        span_index = 0
        for i in range(window_cells):
            lo = origin + (window * i) // window_cells
            hi = max(origin + (window * (i + 1)) // window_cells, lo + 1)
            while span_index < len(spans) and spans[span_index][1] <= lo:
                span_index += 1
            inflight = span_index < len(spans) and spans[span_index][0] < hi
            if inflight and blocked_at is not None and lo <= blocked_at < hi:
                cells.append(Cell.BLOCKER)
            else:
                cells.append(Cell.INFLIGHT if inflight else Cell.ACKED)
    cells.extend([Cell.UNDELIVERED] * (width - window_cells))
    return cells


def ribbon_runs(cells: list[Cell]) -> list[tuple[Cell, int]]:
    """Consecutive equal cells as (cell, count) runs (fewer segments to draw)."""
    runs: list[tuple[Cell, int]] = []
    for cell in cells:
        if runs and runs[-1][0] is cell:
            runs[-1] = (cell, runs[-1][1] + 1)
        else:
            runs.append((cell, 1))
    return runs
