"""How ``--help`` reads: Typer's Rich help, with kconsume's help text taken as written.

Typer (0.29) renders help with Rich markup, so ``pip install 'kconsume[broker]'`` lost
its ``[broker]``; it keeps a docstring's hard line breaks, so at 80 columns sentences
broke in the middle; usage lines showed ``{topics}...`` and ``{GROUP}``; and the type
column said ``<bool>`` for flags and ``<list[str]>`` for repeatable options.  Every
command is made a :class:`Command`, which fixes the text once, when it is built.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperOption

__all__ = ["Command", "reflow"]


def reflow(text: str) -> str:
    """``text`` with each paragraph on one line (Rich wraps it to the terminal), and its
    square brackets kept as text.  A paragraph starting with a line of its own that
    begins with ``-`` or ``*`` keeps its lines (a list)."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    out = []
    for paragraph in paragraphs:
        lines = [line.strip() for line in paragraph.splitlines()]
        if all(line.startswith(("- ", "* ")) for line in lines[:1]) and len(lines) > 1:
            out.append("\n".join(lines))
        else:
            out.append(" ".join(lines))
    return escape("\n\n".join(out))


class _Argument(TyperArgument):
    """An argument shown by its name (``TOPIC...``), without ``{}`` or a type column."""

    @property
    def display_name_raw(self) -> str:
        name = self.metavar or (self.name or "").upper()
        return f"{name}..." if self.nargs != 1 else name

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(TyperOption):
    """A flag shows no type; a repeatable option shows its item type (``<str>``), and its
    help says it repeats."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        if self.metavar is not None:
            return self.metavar
        shown = self.display_type(ctx)
        return re.sub(r"^<list\[(.*)\]>$", r"<\1>", shown) if shown else shown


def _no_type_shown(ctx: Any) -> str | None:
    return None


class Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:
            self.help = reflow(self.help)
        for param in self.params:
            if isinstance(param, TyperArgument):
                param.__class__ = _Argument
                param.metavar = param.metavar or (param.name or "").upper()
            elif isinstance(param, TyperOption):
                param.__class__ = _Option
            if isinstance(param, TyperArgument | TyperOption) and param.help:
                param.help = reflow(param.help)

    def get_help_option(self, ctx: Any) -> Any:
        """``--help``, a flag: no ``<bool>``."""
        option = super().get_help_option(ctx)
        if option is not None:
            option.display_type_rich = _no_type_shown  # type: ignore[method-assign]
        return option
