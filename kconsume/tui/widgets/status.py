"""The Status panel: broker, group, generation, member, state, rate and its sparkline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ...tail.source import SourceState
from .rate import RateSparkline

__all__ = ["StatusBar", "StatusView"]

BADGES = {
    SourceState.STARTING: ("◌", "starting"),
    SourceState.CONSUMING: ("●", "consuming"),
    SourceState.REBALANCING: ("◐", "rebalancing"),
    SourceState.UNREACHABLE: ("✕", "unreachable"),
    SourceState.PAUSED: ("‖", "paused"),
    SourceState.BACKPRESSURE: ("‖", "backpressure"),
    SourceState.STOPPING: ("◌", "stopping"),
    SourceState.STOPPED: ("■", "stopped"),
    SourceState.FAILED: ("✕", "failed"),
}


@dataclass(frozen=True, slots=True)
class StatusView:
    """Everything the Status panel shows (built by the app on each poll)."""

    state: SourceState
    detail: str
    broker: str
    topics: tuple[str, ...]
    group: str | None
    generation: int | None
    member_id: str | None
    rate: float
    delivered: int
    tail_shown: int
    tail_size: int
    filter: str | None
    filter_errors: int
    following: bool
    history: Sequence[float] = ()


class StatusBar(Horizontal):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--label",
        "status-bar--value",
        "status-bar--starting",
        "status-bar--consuming",
        "status-bar--rebalancing",
        "status-bar--unreachable",
        "status-bar--paused",
        "status-bar--backpressure",
        "status-bar--stopping",
        "status-bar--stopped",
        "status-bar--failed",
        "status-bar--filter",
    }

    DEFAULT_CSS = """
    StatusBar { height: auto; }
    StatusBar > #status-text { width: 1fr; height: 2; }
    StatusBar > #status-text > Static { height: 1; }
    StatusBar > #status-rate { width: 34; height: 2; }
    StatusBar > #status-rate > RateSparkline { height: 1; }
    StatusBar > #status-rate > Static { height: 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="status-text"):
            yield Static(id="status-state")
            yield Static(id="status-group")
        with Vertical(id="status-rate"):
            yield RateSparkline(id="rate-sparkline")
            yield Static("msg/s, a bar a second, from 0", id="rate-caption")

    def show(self, view: StatusView) -> None:
        label = self.get_component_rich_style("status-bar--label")
        value = self.get_component_rich_style("status-bar--value")
        symbol, klass = BADGES[view.state]
        badge = self.get_component_rich_style(f"status-bar--{klass}")
        state = Text(no_wrap=True, overflow="ellipsis")
        state.append(f" {symbol} {view.state.value.upper()} ", badge)
        if view.detail:
            state.append(f" {view.detail}", label)
        state.append("  ").append(f"{view.rate:,.0f}", value).append(" msg/s", label)
        state.append("  delivered ", label).append(f"{view.delivered:,}", value)
        if view.tail_size:
            state.append("  tail ", label).append(f"{view.tail_shown:,}/{view.tail_size:,}", value)
            state.append(" following" if view.following else " scrolled back (end follows)", label)
        else:
            state.append("  messages stay in the observed process", label)
        if view.filter:
            filter_style = self.get_component_rich_style("status-bar--filter")
            state.append("  filter ", label).append(view.filter, filter_style)
            if view.filter_errors:
                state.append(f" ({view.filter_errors:,} errors)", filter_style)
        where = Text(no_wrap=True, overflow="ellipsis")
        where.append("broker ", label).append(view.broker, value)
        if view.group is None:
            where.append("  no group: observing, never committing", label)
        else:
            where.append("  group ", label).append(view.group, value)
            where.append("  generation ", label).append(
                "-" if view.generation is None else str(view.generation), value
            )
            where.append("  member ", label).append(view.member_id or "-", value)
        # Fixed sizes: new text needs no layout, only a repaint.
        self.query_one("#status-state", Static).update(state, layout=False)
        self.query_one("#status-group", Static).update(where, layout=False)
        self.query_one("#rate-sparkline", RateSparkline).show(view.history)
