"""A header and rows drawn with the Line API: the base of the Partitions and Streams panels.

Only the visible lines are rendered.  Subclasses say how wide their columns are and
how a row looks; rows are plain data set from outside (attributes down) on every
poll of the engine snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["Column", "LineTable", "cells"]

Row = TypeVar("Row")
Align = Literal["<", ">"]


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    align: Align = ">"


def fit(text: str, width: int, align: Align) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
    return text.ljust(width) if align == "<" else text.rjust(width)


def cells(
    columns: Sequence[Column], values: Sequence[str], styles: Sequence[Style | None], base: Style
) -> list[Segment]:
    """Segments of one line of columns separated by a space."""
    segments: list[Segment] = []
    for i, (column, value) in enumerate(zip(columns, values, strict=True)):
        if i:
            segments.append(Segment(" ", base))
        style = styles[i]
        segments.append(
            Segment(fit(value, column.width, column.align), base + style if style else base)
        )
    return segments


class LineTable(ScrollView, Generic[Row]):
    """A fixed header line and ``lines_per_row`` lines per row, scrolled by the rows."""

    DEFAULT_CSS = """
    LineTable {
        height: auto;
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Row] = []
        self.lines_per_row = 1

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Show these rows (the widget keeps the list)."""
        self.rows = list(rows)
        self.lines_per_row = self.row_height(
            self.scrollable_content_region.width or self.size.width
        )
        self.virtual_size = Size(0, 1 + max(1, len(self.rows)) * self.lines_per_row)
        self.refresh()

    def on_resize(self) -> None:
        self.set_rows(self.rows)

    def row_height(self, width: int) -> int:
        """Lines each row takes at this width."""
        return 1

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return Strip(self.render_header(width, base)).crop_extend(0, width, base)
        index = round(self.scroll_y) + y - 1
        row, part = divmod(index, self.lines_per_row)
        if not self.rows:
            if index == 0:
                return Strip([Segment(self.empty_text, base + self.dim_style())]).crop_extend(
                    0, width, base
                )
            return Strip.blank(width, base)
        if row >= len(self.rows):
            return Strip.blank(width, base)
        item = self.rows[row]
        line_style = self.row_style(item, base)
        segments = self.render_row(item, part, width, base)
        return Strip(segments).crop_extend(0, width, line_style)

    empty_text = "nothing yet"

    def dim_style(self) -> Style:
        return Style(dim=True)

    def row_style(self, row: Row, base: Style) -> Style:
        """The style of a whole row (its padding too)."""
        return base

    def render_header(self, width: int, base: Style) -> list[Segment]:
        raise NotImplementedError

    def render_row(self, row: Row, part: int, width: int, base: Style) -> list[Segment]:
        raise NotImplementedError
