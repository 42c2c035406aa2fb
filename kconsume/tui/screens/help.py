"""The help screen (``?``): the keys and what each panel shows."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...tail.ribbon import LEGEND

__all__ = ["KEYS", "PANELS_HELP", "HelpScreen"]

#: (keys, what they do), in the order the help shows them.
KEYS: tuple[tuple[str, str], ...] = (
    ("p", "pause / resume consuming (no partition is fetched while paused)"),
    ("/", "search the messages; n / N: next (newer) / previous (older) match"),
    ("f", "filter the messages with a --where expression; empty clears it"),
    ("o", "jump: read every partition again from an offset, -N, @TIME, beginning or end"),
    ("enter", "open the message under the cursor (the newest while following)"),
    ("x y w", "in a message: its value's bytes in hex; copy it as JSON; save it as JSON"),
    ("c", "commit now what is committable"),
    ("b", "open the record blocking the commit of the partition blocked longest"),
    ("s", "skip that blocking record (ack it unprocessed) after a confirmation; kconsume run"),
    ("↑ ↓ pgup pgdn home", "move in the messages (stops following)"),
    ("end", "follow the newest messages again"),
    ("g", "consumer groups: every group's lag and verdict; v peeks, o moves an offset"),
    ("1 2 3 4 5", "show / hide Status, Partitions, Streams, Messages, Events"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("esc", "close a dialog"),
    ("q", "quit: streams finish their message, the group commits, the tail leaves"),
)

PANELS_HELP: tuple[tuple[str, str], ...] = (
    ("1 Status", "broker, group, generation and member id, state, messages per second"),
    (
        "2 Partitions",
        "per partition: committed offset, last delivered, highwater, lag, in flight, the "
        "oldest in flight and its age, last commit, commits ok/failed; the ribbon draws "
        f"{LEGEND} (▓: the offset blocking a commit the engine warned about). "
        "A BLOCKED row: the engine warned that its commit does not move.",
    ),
    (
        "3 Streams",
        "per stream: topics, buffer, processed, rate, the message it is on and for how "
        "long, how many messages it holds (their refcount includes it)",
    ),
    ("4 Messages", "the newest messages; ● marks one a stream still holds"),
    ("5 Events", "rebalances, commit failures, decode errors, blocked commits, notices"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        keys = Table(box=None, show_header=False, padding=(0, 2), expand=True)
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column(ratio=1)
        for key, what in KEYS:
            keys.add_row(key, what)
        panels = Table(box=None, show_header=False, padding=(0, 2), expand=True)
        panels.add_column(style="bold", no_wrap=True)
        panels.add_column(ratio=1)
        for name, what in PANELS_HELP:
            panels.add_row(name, what)
        body = Group(
            Text("Keys", style="bold underline"),
            keys,
            Text(""),
            Text("Panels", style="bold underline"),
            panels,
        )
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "kconsume dashboard: help"
            dialog.border_subtitle = "esc closes"
            yield Static(body, id="help-body")

    def action_close(self) -> None:
        self.dismiss(None)
