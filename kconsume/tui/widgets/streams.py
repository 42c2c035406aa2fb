"""The Streams panel: one row per stream of the engine.

For each: its topics, buffer depth, messages processed and their rate, the message it
is on and for how long, and how many messages it holds a reference to (buffered plus
current: the messages whose refcount includes this stream).  A stream that has been
on one message for ``slow_after`` seconds or more is drawn in the ``--slow`` style.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style

from ...engine.snapshot import StreamSnapshot
from ...tail.lines import format_age, format_number
from .table import Column, LineTable, cells

__all__ = ["StreamsTable"]


def buffer_cell(s: StreamSnapshot) -> str:
    """Depth/size, and ``P`` while the full buffer pauses the stream's partitions.

    Never cut: the column is as wide as its widest cell.
    """
    return f"{s.buffer_depth:,}/{s.buffer_maxsize:,}" + (" P" if s.paused else "")


class StreamsTable(LineTable[StreamSnapshot]):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "streams-table--header",
        "streams-table--name",
        "streams-table--slow",
        "streams-table--dim",
    }

    empty_text = "no streams"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rates: Mapping[str, float] = {}
        self.slow_after = 5.0
        #: The session's own stream, marked as the dashboard's.
        self.tail_stream = "tail"

    def _columns(self) -> tuple[Column, ...]:
        name = max([8, *(len(self._label(s)) for s in self.rows)])
        topics = max([8, *(len(", ".join(s.topics)) for s in self.rows)])
        buffer = max([11, *(len(buffer_cell(s)) for s in self.rows)])
        return (
            Column("stream", min(name, 28), "<"),
            Column("topics", min(topics, 30), "<"),
            Column("buffer", buffer),
            Column("processed", 11),
            Column("msg/s", 7),
            Column("on message", 20, "<"),
            Column("for", 6),
            Column("holds", 7),
            Column("decode err", 10),
        )

    def _label(self, s: StreamSnapshot) -> str:
        return f"{s.name} (dashboard)" if s.name == self.tail_stream else s.name

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"streams-table--{name}")

    def render_header(self, width: int, base: Style) -> list[Segment]:
        columns = self._columns()
        return cells(
            columns, [c.title for c in columns], [None] * len(columns), base + self._style("header")
        )

    def row_style(self, row: StreamSnapshot, base: Style) -> Style:
        slow = row.current_for is not None and row.current_for >= self.slow_after
        return base + self._style("slow") if slow else base

    def render_row(self, row: StreamSnapshot, part: int, width: int, base: Style) -> list[Segment]:
        s = row
        row_style = self.row_style(s, base)
        on = f"{s.current}@{s.current_offset}" if s.current is not None else "idle"
        rate = self.rates.get(s.name)
        values = [
            self._label(s),
            ", ".join(s.topics),
            buffer_cell(s),
            format_number(s.processed),
            "-" if rate is None else f"{rate:,.0f}",
            on,
            format_age(s.current_for),
            format_number(s.held),
            format_number(s.decode_errors),
        ]
        dim = self._style("dim")
        styles: list[Style | None] = [self._style("name"), None, None, None, None]
        styles += [None if s.current is not None else dim, None, None, None]
        return cells(self._columns(), values, styles, row_style)
