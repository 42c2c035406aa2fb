"""The dashboard against the scripted source: no broker, no wall clock, no timer."""

from __future__ import annotations

from datetime import UTC

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from kconsume.tui import DashboardApp
from tests.tui.scripted_source import ScriptedSource

#: The terminal the tests and snapshots use.
SIZE = (160, 50)


def dashboard(source: ScriptedSource, theme: str = "dark") -> DashboardApp:
    """The app over ``source``, times in UTC, polled only when a test says so."""
    return DashboardApp(source, theme=theme, tz=UTC, poll_interval=None)


async def settle(pilot: Pilot[None], polls: int = 25) -> None:
    """Poll the scripted source ``polls`` times (2.5 scripted seconds), then let the UI catch up."""
    app = pilot.app
    assert isinstance(app, DashboardApp)
    for _ in range(polls):
        app.poll()
    await pilot.pause()


def text_of(app: DashboardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource()
