"""The groups screen on the real broker: its peek and move-offset keys go through
``kconsume peek`` and ``kconsume commit``'s code, and the offset really moves."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from kconsume.broker import EmbeddedBroker
from kconsume.engine.types import TP
from kconsume.groups.monitor import GroupsMonitor
from kconsume.tui.groups_app import GroupsApp
from kconsume.tui.screens import GroupsScreen
from kconsume.tui.screens.group_actions import CommitScreen, PeekScreen
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed
from tests.integration.test_groups_cli import set_committed

pytestmark = pytest.mark.broker


async def test_groups_screen_peeks_and_moves_an_offset(
    broker: EmbeddedBroker, topic: str, produce: Produce
) -> None:
    await produce(topic, 30)  # offsets 0..9 in each partition
    group = f"screen-{topic}"
    await set_committed(broker, group, topic, {0: 4, 1: 10, 2: 10})
    monitor = GroupsMonitor(broker.url, interval=0.2, window=3)
    app = GroupsApp(monitor, auto_refresh=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, GroupsScreen)
        for _ in range(3):
            await screen.refresh_now()
        screen.selected = group
        screen.show()
        await pilot.pause()
        report = screen.report()
        assert report is not None and report.group == group and report.total_lag == 6
        part = screen.partition()
        assert part is not None and part.tp == TP(topic, 0)
        await pilot.press("v")
        await wait_for(lambda: isinstance(app.screen, PeekScreen), what="the peek dialog")
        peeked = str(app.screen.query_one("#peek-text", Static).render())
        assert f"▶ next for {group} (committed offset 4)" in peeked
        await pilot.press("escape")
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, CommitScreen)
        await pilot.press("minus", "2", "enter")
        await wait_for(lambda: dialog.planned == "-2", what="the dry run")
        plan = str(dialog.query_one("#commit-plan", Static).render())
        assert f"Dry run: commit --to -2 for group {group} on {topic}:0" in plan
        assert (await group_committed(broker, group, topic))[0] == 4  # a dry run
        await pilot.press("x")
        committed: dict[int, int | None] = {}

        async def moved() -> bool:
            committed.update(await group_committed(broker, group, topic))
            return committed[0] == 2

        for _ in range(200):
            if await moved():
                break
            await pilot.pause(0.05)
        assert committed == {0: 2, 1: 10, 2: 10}
