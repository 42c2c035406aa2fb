"""Running the dashboard over a tail session: what ``kconsume tail`` and ``demo`` call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..consume import ConsumeOptions
from ..demo.run import DemoSettings, demo_app
from ..groups.monitor import GroupsMonitor
from ..observe.remote import RemoteSource
from ..tail.buffer import DEFAULT_BUFFER_SIZE
from ..tail.logs import capture_logs
from ..tail.session import TailSession
from .app import DashboardApp
from .themes import DEFAULT_THEME

__all__ = ["run_demo_dashboard", "run_remote", "run_session", "run_tail"]


async def run_session(
    session: TailSession,
    *,
    theme: str | Path = DEFAULT_THEME,
    quit_after: float | None = None,
    broker_settings: dict[str, Any] | None = None,
) -> str | None:
    """Run ``session`` under the dashboard until the user quits (or ``quit_after`` seconds).

    Log records go to the Events panel while the dashboard owns the terminal.  The
    session is stopped (commit, leave the group) before this returns, whatever ends
    the dashboard.  Returns why the engine failed, if it did, or why it never reached
    the broker if the user quit before it did (exit 1, as ``consume``).  ``broker_settings``
    (security, client settings) are used by the groups screen (``g``) too.
    """

    def groups() -> GroupsMonitor:
        return GroupsMonitor(session.broker, broker_settings)

    app = DashboardApp(session, theme=theme, quit_after=quit_after, freeze_gc=True, groups=groups)
    with capture_logs(session.notify):
        async with session:
            await app.run_async()
    return session.failure


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
