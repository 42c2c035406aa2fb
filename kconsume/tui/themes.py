"""Dashboard themes: ``.tcss`` files chosen with ``--theme``.

A theme is a Textual CSS file that colours the dashboard's parts (the layout lives
in ``kconsume/tui/dashboard.tcss``).  Its first comment may name the Textual theme
whose palette the built-in widgets (footer, inputs, command palette) use::

    /* kconsume theme: light
     * base: textual-light
     */

Themes ship inside the package (``kconsume/themes/``, put there by the wheel build);
a source checkout or editable install finds them in the repository's ``themes/``.
``--theme`` also takes the path of a ``.tcss`` file of your own.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import KConsumeError

__all__ = [
    "DEFAULT_THEME",
    "ThemeNotFoundError",
    "available_themes",
    "base_theme",
    "resolve_theme",
    "theme_dirs",
]

DEFAULT_THEME = "dark"
_PACKAGE = Path(__file__).resolve().parent.parent
_BASE = re.compile(r"^\s*\*?\s*base:\s*([\w-]+)", re.MULTILINE)


class ThemeNotFoundError(KConsumeError):
    """``--theme`` names no theme and no ``.tcss`` file."""


def theme_dirs() -> list[Path]:
    """Where themes are looked up, in order: inside the package, then the source tree."""
    return [d for d in (_PACKAGE / "themes", _PACKAGE.parent / "themes") if d.is_dir()]


def available_themes() -> dict[str, Path]:
    """Theme name -> file, the first directory that has a name winning."""
    found: dict[str, Path] = {}
    for directory in theme_dirs():
        for path in sorted(directory.glob("*.tcss")):
            found.setdefault(path.stem, path)
    return found


def resolve_theme(spec: str | Path) -> Path:
    """The file of a theme name (``dark``, ``light``) or a path to a ``.tcss`` file."""
    text = str(spec)
    if text.endswith(".tcss") or "/" in text:
        path = Path(text).expanduser()
        if path.is_file():
            return path.resolve()
        raise ThemeNotFoundError(f"no theme file {text}")
    themes = available_themes()
    try:
        return themes[text]
    except KeyError:
        known = ", ".join(sorted(themes)) or "none installed"
        raise ThemeNotFoundError(f"unknown theme {text!r} (known: {known})") from None


def base_theme(path: Path) -> str:
    """The Textual theme a theme file asks for in its first comment (default: textual-dark)."""
    head = path.read_text(encoding="utf-8")[:2000]
    comment = head.split("*/", 1)[0] if head.lstrip().startswith("/*") else ""
    match = _BASE.search(comment)
    return match.group(1) if match else "textual-dark"
