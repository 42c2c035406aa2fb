"""The filter dialog (``f``): a ``--where`` expression, its errors shown in place.

It returns the expression (``""`` clears the filter) or None when cancelled.  A
syntax error stays in the dialog with a caret under the position: nothing crashes
and nothing changes until the expression compiles.
"""

from __future__ import annotations

from ...records.filters import FilterSyntaxError, compile_where
from .prompt import PromptScreen

__all__ = ["FilterScreen"]


class FilterScreen(PromptScreen[str]):
    NAME = "filter"
    DIALOG_TITLE = "Filter messages"
    DIALOG_KEYS = "enter applies · empty clears · esc cancels"
    HINT = (
        "A Python expression over key, value, headers, topic, partition, offset, timestamp "
        "and msg, as consume --where takes it.  Example: value['total'] > 500 and "
        "partition == 2"
    )
    PLACEHOLDER = "value['total'] > 500"

    def __init__(self, current: str | None = None) -> None:
        super().__init__(current or "")

    def read(self, text: str) -> str:
        if text:
            try:
                compile_where([text])
            except FilterSyntaxError as exc:
                raise ValueError(str(exc)) from None
        return text
