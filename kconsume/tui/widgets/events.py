"""The Events panel: engine events and the session's notices, newest at the bottom.

Rebalances, commit failures, decode errors, livelock warnings (and their clearing),
revoke timeouts, and what the session has to say (pause, filter, commit now, a lost
broker, log records).  Routine commits are left out: the Partitions panel shows
their progress.  A ``RichLog`` with ``max_lines``: bounded, and it renders only the
lines on screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import RichLog

from ...engine.events import (
    BackPressureWarning,
    CommitFailed,
    DecodeError,
    EngineEvent,
    HandlerTimedOut,
    LivelockCleared,
    LivelockWarning,
    MessageSkipped,
    PartitionsAssigned,
    PartitionsRevoked,
    RebalanceStarted,
    RevokeDrainTimeout,
    StopLeftUncommitted,
    StopStarted,
)
from ...tail.lines import format_clock
from ...tail.source import Notice

__all__ = ["EventLog", "event_kind"]

#: Lines the panel keeps.
MAX_LINES = 1000


#: (event types, label, level) in the order they are tried: subclasses before the
#: classes they extend (LivelockWarning is a WatchdogWarning).
KINDS: tuple[tuple[type[EngineEvent] | tuple[type[EngineEvent], ...], str, str], ...] = (
    (LivelockWarning, "blocked", "error"),
    (LivelockCleared, "unblocked", "success"),
    (CommitFailed, "commit", "error"),
    (MessageSkipped, "skipped", "warning"),
    (HandlerTimedOut, "timeout", "warning"),
    (BackPressureWarning, "pressure", "warning"),
    (StopStarted, "stopping", "info"),
    (StopLeftUncommitted, "stopped", "warning"),
    (DecodeError, "decode", "warning"),
    (RevokeDrainTimeout, "revoke", "warning"),
    ((RebalanceStarted, PartitionsRevoked, PartitionsAssigned), "rebalance", "info"),
)


def event_kind(event: EngineEvent) -> tuple[str, str]:
    """(label, level) of an event: level is info, success, warning or error."""
    if isinstance(event, Notice):
        return "note", event.level
    for types, label, level in KINDS:
        if isinstance(event, types):
            return label, level
    return _by_name(type(event).__name__)


def _by_name(name: str) -> tuple[str, str]:
    """Label and level of an event type this panel does not know, from its name
    (``SomethingWarning``, ``SomethingCleared``, ``SomethingFailed``...)."""
    for suffix, level in (
        ("Warning", "warning"),
        ("Stalled", "warning"),
        ("Cleared", "success"),
        ("Failed", "error"),
        ("Error", "error"),
        ("Timeout", "warning"),
    ):
        if name.endswith(suffix) and name != suffix:
            label = name[: -len(suffix)]
            return label[:1].lower() + label[1:], level
    return name[:1].lower() + name[1:], "info"


class EventLog(RichLog):
    DEFAULT_CSS = """
    EventLog { overflow-x: hidden; overflow-y: auto; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-log--time",
        "event-log--info",
        "event-log--success",
        "event-log--warning",
        "event-log--error",
    }

    def __init__(
        self, *, tz: tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, id=id, classes=classes)
        self.tz = tz
        self.count = 0

    def add(self, events: Iterable[EngineEvent], dropped: int = 0) -> None:
        for event in events:
            label, level = event_kind(event)
            text = Text(no_wrap=True)
            text.append(
                format_clock(event.at, self.tz), self.get_component_rich_style("event-log--time")
            )
            style = self.get_component_rich_style(f"event-log--{level}")
            text.append(f"  {label:<9} ", style + Style(bold=True))
            text.append(event.summary, style)
            self.write(text, shrink=False, scroll_end=True)
            self.count += 1
        if dropped:
            self.write(
                Text(f"… {dropped:,} more events came too fast and are not shown", "italic"),
                shrink=False,
                scroll_end=True,
            )
