"""The search bar under the Messages panel (``/``): text to highlight and jump to."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

__all__ = ["SearchBar"]


class SearchBar(Horizontal):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    DEFAULT_CSS = """
    SearchBar { height: 1; display: none; }
    SearchBar.-open { display: block; }
    SearchBar > Label { width: auto; padding: 0 1 0 0; }
    SearchBar > Input { border: none; height: 1; width: 1fr; padding: 0; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        pass

    def compose(self) -> ComposeResult:
        yield Label("search /")
        yield Input(placeholder="text to find (Enter: newest match, n / N: next / previous)")

    def open(self, text: str = "") -> None:
        self.add_class("-open")
        field = self.query_one(Input)
        field.value = text
        field.focus()

    def action_close(self) -> None:
        self.remove_class("-open")
        self.post_message(self.Closed())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-open")
        self.post_message(self.Submitted(event.value))
