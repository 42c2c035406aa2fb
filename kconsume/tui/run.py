"""Running the dashboard over a tail session: what ``kconsume tail`` and ``demo`` call."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from ..consume import ConsumeOptions
from ..demo.run import DemoSettings, demo_app
from ..engine.events import EngineEvent, StopLeftUncommitted
from ..groups.monitor import GroupsMonitor
from ..observe.remote import RemoteSource
from ..tail.buffer import DEFAULT_BUFFER_SIZE
from ..tail.logs import capture_logs
from ..tail.session import TailSession
from .app import DashboardApp
from .themes import DEFAULT_THEME

__all__ = [
    "print_left_uncommitted",
    "run_demo_dashboard",
    "run_remote",
    "run_session",
    "run_tail",
]


async def run_session(
    session: TailSession,
    *,
    theme: str | Path = DEFAULT_THEME,
    quit_after: float | None = None,
    broker_settings: dict[str, Any] | None = None,
    stderr: TextIO | None = None,
) -> str | None:
    """Run ``session`` under the dashboard until the user quits (or ``quit_after`` seconds).

    Log records go to the Events panel while the dashboard owns the terminal.  The
    session is stopped (commit, leave the group) before this returns, whatever ends
    the dashboard.  Returns why the engine failed, if it did, or why it never reached
    the broker if the user quit before it did (exit 1, as ``consume``).  ``broker_settings``
    (security, client settings) are used by the groups screen (``g``) too.  Records the
    stop left uncommitted (handlers still on them) are printed to ``stderr`` once the
    screen has closed.
    """

    def groups() -> GroupsMonitor:
        return GroupsMonitor(session.broker, broker_settings)

    app = DashboardApp(session, theme=theme, quit_after=quit_after, freeze_gc=True, groups=groups)
    left: list[EngineEvent] = []

    def keep(event: EngineEvent) -> None:
        if isinstance(event, StopLeftUncommitted):
            left.append(event)

    unsubscribe = session.subscribe(keep)
    try:
        with capture_logs(session.notify):
            async with session:
                await app.run_async()
    finally:
        unsubscribe()
        print_left_uncommitted(left, stderr or sys.stderr)
    return session.failure


def print_left_uncommitted(events: list[EngineEvent], out: TextIO) -> None:
    """Print the stop's ``StopLeftUncommitted`` events, one line each.

    Caller: :func:`run_session`, once the screen has closed: the Events panel that listed
    them is gone with it, and these records are what the next run consumes again.
    """
    for event in events:
        if isinstance(event, StopLeftUncommitted):
            print(f"kconsume: {event.summary}", file=out, flush=True)


async def run_tail(
    options: ConsumeOptions,
    *,
    theme: str | Path = DEFAULT_THEME,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
) -> str | None:
    """``kconsume tail``: a session built from the consume options, under the dashboard."""
    return await run_session(
        TailSession.from_options(options, buffer_size=buffer_size),
        theme=theme,
        broker_settings=options.broker_settings,
    )


async def run_demo_dashboard(
    settings: DemoSettings, *, theme: str | Path = DEFAULT_THEME
) -> str | None:
    """``kconsume demo``: the demo's App (audit and billing) under the dashboard."""
    async with demo_app(settings) as run:
        session = TailSession.attach(
            run.app, broker=run.broker_url, topics=[settings.topic], value_format="json"
        )
        return await run_session(session, theme=theme, quit_after=settings.duration)


async def run_remote(
    source: RemoteSource, *, theme: str | Path = DEFAULT_THEME, headless: bool = False
) -> tuple[str | None, bool]:
    """``kconsume attach``: the dashboard over an observe endpoint.

    Connects first (an :class:`~kconsume.observe.remote.AttachError` is raised before the
    screen opens), then runs until the user quits or the endpoint goes away, which
    closes the dashboard.  Returns (why it ended if the endpoint went away, whether the
    observed engine stopped normally).  ``headless`` runs without a terminal (tests).
    """
    try:
        await source.connect()
        app = DashboardApp(source, theme=theme)
        source.start()

        async def close_when_gone() -> None:
            await source.gone.wait()
            app.exit()

        watcher = asyncio.create_task(close_when_gone(), name="kconsume-attach-watch")
        try:
            await app.run_async(headless=headless)
        finally:
            watcher.cancel()
    finally:
        await source.stop()
    return source.reason, source.ended
