"""The jump dialog (``o``): where to read from, as ``-o`` takes it.

It returns (the position, the text as typed) or None when cancelled; a position that
does not parse stays in the dialog with the reason.
"""

from __future__ import annotations

from ...engine.positions import StartAt
from .prompt import PromptScreen

__all__ = ["JumpScreen"]


class JumpScreen(PromptScreen[tuple[StartAt, str]]):
    NAME = "jump"
    DIALOG_TITLE = "Jump to an offset or a time"
    DIALOG_KEYS = "enter jumps · esc cancels"
    HINT = (
        "Read every partition again from: an offset (1042), N before the end (-10), a time "
        "(@2026-11-27T14:00:00Z, @1795791249599), beginning or end: as -o takes it."
    )
    PLACEHOLDER = "-100"

    def read(self, text: str) -> tuple[StartAt, str]:
        start = StartAt.parse(text)
        if start.kind == "stored":
            raise ValueError("'stored' is a group's committed offset: the tail has no group")
        return start, text
