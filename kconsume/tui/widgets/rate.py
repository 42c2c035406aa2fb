"""A rate sparkline that starts at zero: one bar per sample, the newest on the right.

Textual's ``Sparkline`` scales between the smallest and the largest value, which makes
a steady 39 to 41 msg/s look like a storm; a rate reads better against zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["RateSparkline"]

BARS = " ▁▂▃▄▅▆▇█"


class RateSparkline(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"rate-sparkline--bar", "rate-sparkline--axis"}

    DEFAULT_CSS = """
    RateSparkline { height: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.values: tuple[float, ...] = ()

    def show(self, values: Sequence[float]) -> None:
        values = tuple(values)
        if values != self.values:
            self.values = values
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        values = self.values[-width:] if width else ()
        top = max(values, default=0.0)
        bar_style = base + self.get_component_rich_style("rate-sparkline--bar")
        axis_style = base + self.get_component_rich_style("rate-sparkline--axis")
        pad = width - len(values)
        segments = [Segment("▁" * pad, axis_style)] if pad > 0 else []
        for value in values:
            level = round(value / top * (len(BARS) - 1)) if top > 0 else 0
            segments.append(Segment(BARS[level], bar_style) if level else Segment("▁", axis_style))
        return Strip(segments).crop_extend(0, width, base)
