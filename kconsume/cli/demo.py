"""``kconsume demo``: the engine at work on an embedded broker with sample orders."""

from __future__ import annotations

from typing import Annotated

import typer

from ..demo import DemoSettings, run_demo
from .errors import EXIT_USAGE, fail, run_async


def demo_command(
    headless: Annotated[
        bool, typer.Option("--headless", help="Print progress as text instead of the dashboard.")
    ] = False,
    rate: Annotated[float, typer.Option(help="Orders produced per second.", min=0.1)] = 40.0,
    partitions: Annotated[int, typer.Option(help="Partitions of the orders topic.", min=1)] = 4,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).", min=0)
    ] = None,
    every: Annotated[float, typer.Option(help="Seconds between progress reports.", min=0.1)] = 3.0,
    port: Annotated[int | None, typer.Option(help="Broker port (default: a free one).")] = None,
    theme: Annotated[
        str, typer.Option("--theme", help="Dashboard theme: dark | light | a .tcss file.")
    ] = "dark",
    slow_every: Annotated[
        int,
        typer.Option(help="Billing stalls 12 s on every Nth order (0: never).", min=0),
    ] = 1500,
) -> None:
    """Start an embedded broker, produce sample JSON orders, consume them with two streams,
    and open the dashboard on them (--headless: print progress as text instead).

    One stream (billing) stalls 12 s on every 1500th order (about every 40 s at 40/s): its
    small buffer fills, so back-pressure pauses the partitions, and then a blocked
    commit shows; both clear when the stall ends.
    """
    settings = DemoSettings(
        rate=rate,
        partitions=partitions,
        duration=duration,
        progress_every=every,
        port=port,
        slow_every=slow_every,
    )
    if headless:
        run_async(run_demo(settings))
        return
    from ..tui.run import run_demo_dashboard
    from ..tui.themes import ThemeNotFoundError, resolve_theme

    try:
        theme_path = resolve_theme(theme)
    except ThemeNotFoundError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    failure = run_async(run_demo_dashboard(settings, theme=theme_path))
    if failure:
        raise fail(failure)
