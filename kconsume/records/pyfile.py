"""Running a user's Python file once (``--script``, ``kconsume run``), with clear errors."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

__all__ = ["PythonFileError", "caret_message", "run_python_file"]


def caret_message(kind: str, source: str, error: SyntaxError) -> str:
    """``kind`` error with the offending line and a caret under the position."""
    lines = source.splitlines() or [""]
    lineno = max(1, min(error.lineno or 1, len(lines)))
    line = lines[lineno - 1]
    # Python gives no column (0) when the expression ends too early: point past its end.
    column = max(1, min(error.offset or len(line) + 1, len(line) + 1))
    where = f" (line {lineno})" if len(lines) > 1 else ""
    return f"{kind}: {error.msg}{where}\n  {line}\n  {' ' * (column - 1)}^"


class PythonFileError(Exception):
    """The file cannot be read, does not compile, or raised while running."""


def run_python_file(file: Path, *, what: str, bad: str, run_name: str) -> dict[str, Any]:
    """The namespace of ``file`` after running it once.

    ``what`` names the file in messages (``--script x.py``), ``bad`` heads a syntax
    error, which is shown with a caret under its position.
    """
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PythonFileError(f"cannot read {what}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PythonFileError(f"{bad}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise PythonFileError(caret_message(bad, source, exc)) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, nesting too deep
        raise PythonFileError(f"{bad}: {type(exc).__name__}: {str(exc) or 'too complex'}") from None
    try:
        return runpy.run_path(str(file), run_name=run_name)
    except (Exception, SystemExit) as exc:  # exit() at load time is not ours to obey
        raise PythonFileError(f"{what} failed while loading: {type(exc).__name__}: {exc}") from None
