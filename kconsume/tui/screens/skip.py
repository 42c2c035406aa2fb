"""The skip confirmation (``s`` under ``kconsume run``): skip the blocking record?

It names the partition and offset; ``y`` or ``enter`` confirms (returns True), ``n``
or ``esc`` cancels (returns False).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ...tail.lines import format_age
from ...tail.source import BlockingRecord

__all__ = ["SkipScreen"]


class SkipScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Skip it"),
        Binding("enter", "confirm", "Skip it", show=False),
        Binding("n", "cancel", "Cancel"),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self, record: BlockingRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        held = f", held by {', '.join(r.holders)}" if r.holders else ""
        since = f" for {format_age(r.blocked_for)}" if r.blocked_for is not None else ""
        with Vertical(id="skip-dialog") as dialog:
            dialog.border_title = "Skip the blocking record?"
            dialog.border_subtitle = "y / enter skips · n / esc cancels"
            yield Static(
                f"Skip {r.tp}@{r.offset}? It has blocked the partition's commit{since}{held}.\n"
                "It is acked without being processed and the commit moves past it. An "
                "agent whose handler is on it has that iteration cancelled and goes on "
                "with the next message; the skip is logged with its offset.",
                id="skip-text",
            )

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
