"""The groups screen (``kconsume groups --watch``, ``g`` in the dashboard) over scripted
groups: its keys with Pilot, its look in both themes with snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from kconsume.engine.types import TP
from kconsume.groups.scripted import ScriptedGroups
from kconsume.tui import DashboardApp
from kconsume.tui.groups_app import GroupsApp
from kconsume.tui.screens import GroupsScreen
from kconsume.tui.screens.group_actions import CommitScreen, PeekScreen
from tests.tui.scripted_source import ScriptedSource

from .conftest import SIZE

THEMES = ["dark", "light"]


def groups_app(source: ScriptedGroups, theme: str = "dark") -> GroupsApp:
    return GroupsApp(source, theme=theme, auto_refresh=False)


async def window(pilot: Pilot[None], samples: int = 10) -> GroupsScreen:
    """Take ``samples`` scripted samples (a full window), then let the UI catch up."""
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, GroupsScreen)
    for _ in range(samples):
        await screen.refresh_now()
    await pilot.pause()
    return screen


def verdict_text(screen: GroupsScreen) -> str:
    return str(screen.query_one("#group-verdict", Static).render())


async def test_groups_worst_first_and_the_selected_groups_partitions() -> None:
    source = ScriptedGroups()
    async with groups_app(source).run_test(size=SIZE) as pilot:
        screen = await window(pilot)
        table = screen.query_one("#groups-table", DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
            "billing", "audit", "search",
        ]  # fmt: skip
        assert screen.selected == "billing"
        text = verdict_text(screen)
        assert "billing  ERR" in text
        assert "orders[1] STALL: committed offset 1,204 unchanged over 10 samples" in text
        parts = screen.query_one("#group-partitions", DataTable)
        assert parts.row_count == 3
        row = parts.get_row_at(1)
        assert row[0] == "orders[1]" and row[1] == "billing-b@10.0.0.2"
        assert str(row[8]) == "STALL" and str(row[7]) == "never"
        assert len(str(row[5])) == 10  # the lag sparkline: one bar per sample
        await pilot.press("down")  # audit
        assert screen.selected == "audit"
        assert "audit  WARN" in verdict_text(screen)
        assert parts.get_row_at(0)[0] == "audit-log[0]"
        await pilot.press("down")  # search: empty, one partition without an offset
        assert "search  OK" in verdict_text(screen)
        assert str(parts.get_row_at(1)[8]) == "-"


async def test_peek_opens_the_committed_record_of_the_selected_partition() -> None:
    source = ScriptedGroups()
    async with groups_app(source).run_test(size=SIZE) as pilot:
        screen = await window(pilot, 2)
        await pilot.press("tab", "down")  # the partitions table, orders[1]
        await pilot.press("v")
        await pilot.pause()
        await pilot.pause()
        assert source.peeks == [("billing", TP("orders", 1))]
        assert isinstance(pilot.app.screen, PeekScreen)
        assert "▶ next for billing (committed offset 1204)" in str(
            pilot.app.screen.query_one("#peek-text", Static).render()
        )
        await pilot.press("escape")
        assert pilot.app.screen is screen


async def test_move_offset_dry_run_then_execute() -> None:
    source = ScriptedGroups()
    async with groups_app(source).run_test(size=SIZE) as pilot:
        screen = await window(pilot, 2)
        await pilot.press("tab", "down", "o")
        dialog = pilot.app.screen
        assert isinstance(dialog, CommitScreen) and dialog.tp == TP("orders", 1)
        assert dialog.planned is None  # nothing to execute before a dry run
        await pilot.press("plus", "1", "enter")
        await pilot.pause()
        await pilot.pause()
        plan = str(dialog.query_one("#commit-plan", Static).render())
        assert "Dry run: commit --to +1 for group billing on orders:1" in plan
        assert "x executes this commit" in plan
        assert source.commits == []  # a dry run commits nothing
        await pilot.press("x")
        await pilot.pause()
        await pilot.pause()
        assert source.commits == [("billing", TP("orders", 1), "+1")]
        assert pilot.app.screen is screen


async def test_move_offset_bad_target_and_cancel() -> None:
    source = ScriptedGroups()
    async with groups_app(source).run_test(size=SIZE) as pilot:
        screen = await window(pilot, 2)
        await pilot.press("o", *"soon", "enter")
        await pilot.pause()
        await pilot.pause()
        dialog = pilot.app.screen
        assert isinstance(dialog, CommitScreen)
        assert "bad --to 'soon'" in str(dialog.query_one("#commit-plan", Static).render())
        assert dialog.planned is None  # a failed dry run cannot be executed
        await pilot.press("escape")
        assert pilot.app.screen is screen and source.commits == []


async def test_g_opens_the_groups_screen_from_the_dashboard() -> None:
    groups = ScriptedGroups()
    app = DashboardApp(ScriptedSource(), poll_interval=None, groups=lambda: groups)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, GroupsScreen) and screen.source is groups
        await pilot.pause()
        app.poll()  # the dashboard keeps polling its engine underneath
        await pilot.press("escape")
        assert not isinstance(app.screen, GroupsScreen)


async def snapshot_window(pilot: Pilot[None]) -> None:
    await window(pilot)


@pytest.mark.parametrize("theme", THEMES)
def test_groups_screen(snap_compare: Any, theme: str) -> None:
    """billing ERR (orders[1] STALL), audit WARN, search OK with a partition never read."""
    assert snap_compare(
        groups_app(ScriptedGroups(), theme), terminal_size=SIZE, run_before=snapshot_window
    )
