"""A one-line dialog: the user types, the screen says what it means or why not.

Each dialog (filter, jump) names its ids' prefix, its texts and how to read the
line; a line that does not read stays in the dialog with the reason, and nothing
changes until it does.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

__all__ = ["PromptScreen"]

ResultT = TypeVar("ResultT")


class PromptScreen(ModalScreen[ResultT | None]):
    """Dismissed with what :meth:`read` makes of the line, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    #: The ids' prefix: ``#<name>-dialog``, ``-hint``, ``-input``, ``-error`` (styled in .tcss).
    NAME: ClassVar[str]
    DIALOG_TITLE: ClassVar[str]
    DIALOG_KEYS: ClassVar[str]
    HINT: ClassVar[str]
    PLACEHOLDER: ClassVar[str]

    def __init__(self, value: str = "") -> None:
        super().__init__()
        self.value = value

    def read(self, text: str) -> ResultT:
        """What the stripped line means; raises ValueError with the reason shown."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id=f"{self.NAME}-dialog") as dialog:
            dialog.border_title = self.DIALOG_TITLE
            dialog.border_subtitle = self.DIALOG_KEYS
            yield Static(self.HINT, id=f"{self.NAME}-hint")
            yield Input(value=self.value, placeholder=self.PLACEHOLDER, id=f"{self.NAME}-input")
            yield Static(id=f"{self.NAME}-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.query_one(f"#{self.NAME}-error", Static)
        try:
            result = self.read(event.value.strip())
        except ValueError as exc:
            error.update(str(exc))
            error.add_class("-shown")
            return
        error.remove_class("-shown")
        self.dismiss(result)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one(f"#{self.NAME}-error", Static).remove_class("-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
