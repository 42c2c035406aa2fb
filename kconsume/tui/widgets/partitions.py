"""The Partitions panel: one row per assigned topic-partition, with its ribbon.

Columns follow the engine's offset convention (docs/architecture.md): ``committed``
and the ribbon's ends are "next offset to consume"; ``delivered`` is the last offset
delivered.  A partition whose commit the engine reports blocked (a livelock warning)
is drawn in the ``--blocked`` style; one whose last commit failed in ``--failing``.
When the panel is too narrow for the ribbon beside the numbers, it goes on a second
line under them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style

from ...engine.snapshot import PartitionSnapshot
from ...tail.lines import format_age, format_number, format_offset
from ...tail.ribbon import SHORT_LEGEND, Cell, ribbon_cells, ribbon_runs
from .table import Column, LineTable, cells

__all__ = ["PartitionsTable"]

#: The narrowest ribbon drawn beside the numbers; narrower goes to its own line.
MIN_INLINE_RIBBON = 24

GLYPHS = {
    Cell.ACKED: "█",
    Cell.INFLIGHT: "▒",
    Cell.BLOCKER: "▓",
    Cell.UNDELIVERED: "░",
    Cell.CAUGHT_UP: "─",
    Cell.UNKNOWN: " ",
}

NUMBER_COLUMNS = (
    Column("committed", 10),
    Column("delivered", 10),
    Column("highwater", 10),
    Column("lag", 7),
    Column("in flight", 9),
    Column("oldest", 10),
    Column("age", 6),
    Column("last commit", 11),
    Column("ok/failed", 9),
    Column("", 7, "<"),
)


def flag(p: PartitionSnapshot) -> str:
    if p.livelock_warned:
        return "BLOCKED"
    if p.last_commit_ok is False:
        return "failing"
    if p.paused:
        return "paused"
    return ""


def last_commit(p: PartitionSnapshot, has_group: bool) -> str:
    if not has_group:
        return "no group"
    if p.last_commit_age is None:
        return "-"
    return f"{format_age(p.last_commit_age)} {'ok' if p.last_commit_ok else 'FAIL'}"


class PartitionsTable(LineTable[PartitionSnapshot]):
    """Per-partition offsets, commit progress, and the ribbon of the uncommitted window."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "partitions-table--header",
        "partitions-table--name",
        "partitions-table--blocked",
        "partitions-table--failing",
        "partitions-table--paused",
        "partitions-table--lag",
        "partitions-table--dim",
        "partitions-table--ribbon-acked",
        "partitions-table--ribbon-inflight",
        "partitions-table--ribbon-blocker",
        "partitions-table--ribbon-undelivered",
        "partitions-table--ribbon-caught-up",
    }

    empty_text = "no partitions assigned yet"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.has_group = True

    def _name_width(self) -> int:
        return max([9, *(len(str(p.tp)) for p in self.rows)])

    def _columns(self) -> tuple[Column, ...]:
        return (Column("partition", self._name_width(), "<"), *NUMBER_COLUMNS)

    def _numbers_width(self) -> int:
        columns = self._columns()
        return sum(c.width for c in columns) + len(columns)  # a space after each

    def ribbon_width(self, width: int) -> tuple[int, bool]:
        """(cells, inline) for a panel this wide."""
        beside = width - self._numbers_width()
        if beside >= MIN_INLINE_RIBBON:
            return beside, True
        return max(1, width - 2), False

    def row_height(self, width: int) -> int:
        return 1 if self.ribbon_width(width)[1] else 2

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"partitions-table--{name}")

    def render_header(self, width: int, base: Style) -> list[Segment]:
        header = base + self._style("header")
        columns = self._columns()
        segments = cells(columns, [c.title for c in columns], [None] * len(columns), header)
        ribbon, inline = self.ribbon_width(width)
        if inline:
            segments.append(Segment(" " + SHORT_LEGEND[: ribbon - 1], header))
        return segments

    def render_row(
        self, row: PartitionSnapshot, part: int, width: int, base: Style
    ) -> list[Segment]:
        p = row
        row_style = base
        state = flag(p)
        if p.livelock_warned:
            row_style = base + self._style("blocked")
        elif p.last_commit_ok is False:
            row_style = base + self._style("failing")
        elif p.paused:
            row_style = base + self._style("paused")
        ribbon, inline = self.ribbon_width(width)
        segments: list[Segment] = []
        if part == 0:
            oldest_age = p.oldest_inflight_age if p.oldest_inflight is not None else None
            values = [
                str(p.tp),
                format_offset(p.committed),
                format_offset(p.last_delivered),
                format_offset(p.highwater),
                format_number(p.lag),
                format_number(p.inflight),
                format_offset(p.oldest_inflight),
                format_age(oldest_age),
                last_commit(p, self.has_group),
                f"{p.commits_ok}/{p.commits_failed}",
                state,
            ]
            lag_style = self._style("lag") if p.lag else None
            styles: list[Style | None] = [self._style("name"), None, None, None, lag_style]
            styles += [None] * (len(values) - len(styles))
            segments = cells(self._columns(), values, styles, row_style)
            if not inline:
                return segments
            segments.append(Segment(" ", row_style))
        else:
            segments.append(Segment("  ", row_style))
        segments.extend(self.ribbon_segments(p, ribbon, row_style))
        return segments

    def ribbon_segments(self, p: PartitionSnapshot, width: int, row_style: Style) -> list[Segment]:
        out = []
        for cell, count in ribbon_runs(ribbon_cells(p, width)):
            style = (
                row_style + self._style(f"ribbon-{cell.value}")
                if cell is not Cell.UNKNOWN
                else row_style
            )
            out.append(Segment(GLYPHS[cell] * count, style))
        return out
