"""The groups screen's dialogs: peek at the committed record, move the offset.

:class:`PeekScreen` shows text it is given (``kconsume peek``'s pretty output).
:class:`CommitScreen` asks for ``--to`` and shows the dry run its ``plan`` function
gives (``kconsume commit`` without ``--execute``); ``x`` then dismisses it with the
target to execute, as ``kconsume commit --execute`` would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...engine.types import TP
from ...errors import KConsumeError

__all__ = ["CommitScreen", "PeekScreen"]


class PeekScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="peek-dialog") as dialog:
            dialog.border_title = self.title_text
            dialog.border_subtitle = "esc closes"
            yield Static(self.text, id="peek-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class CommitScreen(ModalScreen[str | None]):
    """Move ``group``'s offset on ``tp``: --to, a dry run, then ``x`` to execute."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("x", "execute", "Execute"),
    ]

    def __init__(self, group: str, tp: TP, plan: Callable[[str], Awaitable[str]]) -> None:
        """``plan(to)`` returns the dry run's text; ValueError or KConsumeError: why not."""
        super().__init__()
        self.group = group
        self.tp = tp
        self.plan = plan
        self.planned: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="commit-dialog") as dialog:
            dialog.border_title = f"Move {self.group}'s offset on {self.tp}"
            dialog.border_subtitle = "enter: dry run · x: execute the dry run · esc cancels"
            yield Static(
                "--to: N | +N / -N | beginning | end | @TIME (as kconsume commit)",
                id="commit-help",
            )
            yield Input(placeholder="+1", id="commit-to")
            yield Static("", id="commit-plan", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        to = event.value.strip()
        if to:
            self.planned = None
            self._plan(to)

    @work(group="commit-plan", exclusive=True)
    async def _plan(self, to: str) -> None:
        try:
            text = await self.plan(to)
        except (ValueError, KConsumeError) as exc:
            self.show_plan(to, str(exc), ok=False)
            return
        self.show_plan(to, text, ok="Refused" not in text)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.planned is not None and event.value.strip() != self.planned:
            self.planned = None
            self.query_one("#commit-plan", Static).update("")

    def show_plan(self, to: str, text: str, ok: bool) -> None:
        self.planned = to if ok else None
        hint = "\nx executes this commit, esc cancels." if ok else ""
        self.query_one("#commit-plan", Static).update(text.rstrip("\n") + hint)
        if ok:
            self.set_focus(None)  # x now reaches the screen, not the input

    def action_execute(self) -> None:
        if self.planned is not None:
            self.dismiss(self.planned)

    def action_cancel(self) -> None:
        self.dismiss(None)
