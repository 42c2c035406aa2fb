"""The jump dialog (``o``): where to read from, as ``-o`` takes it.

It returns (the position, the text as typed) or None when cancelled; a position that
does not parse stays in the dialog with the reason.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...engine.positions import StartAt

__all__ = ["JumpScreen"]

HINT = (
    "Read every partition again from: an offset (1042), N before the end (-10), a time "
    "(@2026-11-27T14:00:00Z, @1795791249599), beginning or end: as -o takes it."
)


class JumpScreen(ModalScreen[tuple[StartAt, str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog") as dialog:
            dialog.border_title = "Jump to an offset or a time"
            dialog.border_subtitle = "enter jumps · esc cancels"
            yield Static(HINT, id="jump-hint")
            yield Input(placeholder="-100", id="jump-input")
            yield Static(id="jump-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.query_one("#jump-error", Static)
        try:
            start = StartAt.parse(text)
            if start.kind == "stored":
                raise ValueError("'stored' is a group's committed offset: the tail has no group")
        except ValueError as exc:
            error.update(str(exc))
            error.add_class("-shown")
            return
        self.dismiss((start, text))

    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one("#jump-error", Static).remove_class("-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
