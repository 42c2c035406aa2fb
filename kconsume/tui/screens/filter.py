"""The filter dialog (``f``): a ``--where`` expression, its errors shown in place.

It returns the expression (``""`` clears the filter) or None when cancelled.  A
syntax error stays in the dialog with a caret under the position: nothing crashes
and nothing changes until the expression compiles.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...records.filters import FilterSyntaxError, compile_where

__all__ = ["FilterScreen"]

HINT = (
    "A Python expression over key, value, headers, topic, partition, offset, timestamp "
    "and msg, as consume --where takes it.  Example: value['total'] > 500 and "
    "partition == 2"
)


class FilterScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current or ""

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-dialog") as dialog:
            dialog.border_title = "Filter messages"
            dialog.border_subtitle = "enter applies · empty clears · esc cancels"
            yield Static(HINT, id="filter-hint")
            yield Input(value=self.current, placeholder="value['total'] > 500", id="filter-input")
            yield Static(id="filter-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.query_one("#filter-error", Static)
        if text:
            try:
                compile_where([text])
            except FilterSyntaxError as exc:
                error.update(str(exc))
                error.add_class("-shown")
                return
        error.remove_class("-shown")
        self.dismiss(text)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one("#filter-error", Static).remove_class("-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
