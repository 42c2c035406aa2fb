"""Loading the App a user's file declares."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from ..consume.filters import caret_message
from ..engine.app import App
from ..engine.transport.base import KConsumeError

__all__ = ["AppLoadError", "load_app"]


class AppLoadError(KConsumeError):
    """The file cannot give an App: bad usage, reported before anything runs."""


def load_app(path: str | Path) -> App:
    """Run ``path`` once and return its App: the variable ``app``, else the only App in it.

    The file's folder goes first on ``sys.path``, so its own imports work as they do
    when the file is run with ``python``.
    """
    file = Path(path)
    try:
        source = file.read_text()
    except OSError as exc:
        raise AppLoadError(f"cannot read {file}: {exc.strerror}") from None
    try:
        compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise AppLoadError(caret_message(f"bad Python in {file}", source, exc)) from None
    sys.path.insert(0, str(file.resolve().parent))
    try:
        namespace = runpy.run_path(str(file), run_name="kconsume_app")
    except KConsumeError as exc:
        raise AppLoadError(f"{file}: {exc}") from None
    except Exception as exc:
        raise AppLoadError(f"{file} failed while loading: {type(exc).__name__}: {exc}") from None
    named = namespace.get("app")
    if isinstance(named, App):
        return named
    apps = [value for value in namespace.values() if isinstance(value, App)]
    if len(apps) == 1:
        return apps[0]
    if not apps:
        raise AppLoadError(f"{file} declares no kconsume App (expected: app = App(...))")
    raise AppLoadError(f"{file} declares {len(apps)} Apps: name the one to run 'app'")
