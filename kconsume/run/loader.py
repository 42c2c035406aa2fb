"""Loading the App a user's file declares."""

from __future__ import annotations

import sys
from pathlib import Path

from ..engine.app import App
from ..errors import KConsumeError
from ..records.pyfile import PythonFileError, run_python_file

__all__ = ["AppLoadError", "load_app"]


class AppLoadError(KConsumeError):
    """The file cannot give an App: bad usage, reported before anything runs."""


def load_app(path: str | Path) -> App:
    """Run ``path`` once and return its App: the variable ``app``, else the only App in it.

    The file's folder goes first on ``sys.path``, so its own imports work as they do
    when the file is run with ``python``.
    """
    file = Path(path)
    sys.path.insert(0, str(file.resolve().parent))
    try:
        namespace = run_python_file(
            file, what=str(file), bad=f"bad Python in {file}", run_name="kconsume_app"
        )
    except PythonFileError as exc:
        raise AppLoadError(str(exc)) from None
    named = namespace.get("app")
    if isinstance(named, App):
        return named
    apps = [value for value in namespace.values() if isinstance(value, App)]
    if len(apps) == 1:
        return apps[0]
    if not apps:
        raise AppLoadError(f"{file} declares no kconsume App (expected: app = App(...))")
    raise AppLoadError(f"{file} declares {len(apps)} Apps: name the one to run 'app'")
