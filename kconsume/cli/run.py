"""``kconsume run APP.py``: your streams and handlers on the engine, with the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..run import AppLoadError, load_app, run_headless
from . import options as o
from .errors import EXIT_USAGE, fail, run_async


def run_command(
    file: Annotated[Path, typer.Argument(help="A Python file that declares app = App(...).")],
    headless: Annotated[
        bool, typer.Option("--headless", help="Log progress and warnings as text, no dashboard.")
    ] = False,
    every: Annotated[
        float, typer.Option(help="Seconds between progress reports (--headless).", min=0.1)
    ] = 3.0,
    theme: Annotated[
        str, typer.Option("--theme", help="Dashboard theme: dark | light | a .tcss file.")
    ] = "dark",
    observe: o.Observe = None,
    observe_token: o.ObserveToken = None,
) -> None:
    """Run the App declared in FILE (its streams and agents) and watch it work.

    The dashboard shows which handler holds which offset, and for how long; the
    watchdog names the cause when a commit stops moving.  See docs/run.md.
    """
    try:
        app = load_app(file)
    except AppLoadError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    if not app.conductor.streams:
        raise fail(f"{file} declares no streams or agents: nothing to run", EXIT_USAGE)
    settings = o.observe_settings(observe, observe_token, allow_skip=True)
    if settings is not None:
        app.observe = settings
    if headless:
        run_async(run_headless(app, every=every))
        return
    from ..tail.session import TailSession
    from ..tui.run import run_session
    from ..tui.themes import ThemeNotFoundError, resolve_theme

    try:
        theme_path = resolve_theme(theme)
    except ThemeNotFoundError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    session = TailSession.attach(
        app, broker=app.transport.url, topics=sorted(app.conductor.topics), allow_skip=True
    )
    failure = run_async(run_session(session, theme=theme_path))
    if failure:
        raise fail(failure)
