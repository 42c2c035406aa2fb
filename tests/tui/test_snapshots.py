"""Snapshots of the main screen, the message view and the help, in both themes.

Deterministic: the scripted source, UTC, no timer (the polls are explicit).  After a
deliberate change, look at the report (snapshot_report.html) before running
``make test-snapshot-update``.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.scripted_source import ScriptedSource

from .conftest import SIZE, dashboard, settle

THEMES = ["dark", "light"]


async def ten_seconds(pilot: Pilot[None]) -> None:
    """100 polls of the scripted source: ten bars of the rate sparkline."""
    await settle(pilot, 100)


@pytest.mark.parametrize("theme", THEMES)
def test_main_screen(snap_compare: Any, theme: str) -> None:
    """Blocked orders[2] in the blocked style, failing orders[3], ribbons, the tail following."""
    assert snap_compare(
        dashboard(ScriptedSource(), theme), terminal_size=SIZE, run_before=ten_seconds
    )


@pytest.mark.parametrize("theme", THEMES)
def test_message_view(snap_compare: Any, theme: str) -> None:
    """orders[2]@1180: held by billing, and holding the partition's commit."""
    assert snap_compare(
        dashboard(ScriptedSource(), theme),
        press=["home", "down", "down", "enter"],
        terminal_size=SIZE,
        run_before=ten_seconds,
    )


@pytest.mark.parametrize("theme", THEMES)
def test_help_screen(snap_compare: Any, theme: str) -> None:
    assert snap_compare(
        dashboard(ScriptedSource(), theme),
        press=["question_mark"],
        terminal_size=SIZE,
        run_before=ten_seconds,
    )
