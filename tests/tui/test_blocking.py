"""``b`` opens the record blocking a commit; ``s`` skips it (``kconsume run`` only)."""

from __future__ import annotations

from kconsume.engine.types import TP
from kconsume.tui.app import DashboardApp
from kconsume.tui.screens import MessageScreen, SkipScreen
from tests.tui.scripted_source import ScriptedSource

from .conftest import SIZE, dashboard, text_of
from .test_bindings import events_text, until

BLOCKED = TP("orders", 2)


def notices(app: DashboardApp) -> str:
    return "\n".join(n.message for n in app._notifications)


async def test_b_opens_the_blocking_record_with_offset_and_holder(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        assert screen.event.message.tp == BLOCKED and screen.event.message.offset == 1180
        assert screen.blocking is not None and screen.blocking.holders == ("billing",)
        text = text_of(app, "#message-blocking")
        assert "BLOCKING RECORD: orders[2]@1180" in text
        assert "in flight for 42s" in text and "held by billing" in text
        await pilot.press("b")  # already open: nothing stacks up
        assert app.screen is screen
        await pilot.press("escape")
        assert not isinstance(app.screen, MessageScreen)


async def test_b_with_nothing_blocked_says_so(source: ScriptedSource) -> None:
    source.partitions[2].blocked_for = None
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        assert not isinstance(app.screen, MessageScreen)
        await until(pilot, lambda: "nothing is blocked" in notices(app), "the notice")


async def test_s_without_allow_skip_says_it_is_for_run_only(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert not isinstance(app.screen, SkipScreen)
        await until(pilot, lambda: "only available under kconsume run" in notices(app), "notice")
    assert source.skips == []


async def test_s_confirmed_skips_the_blocking_record() -> None:
    source = ScriptedSource(allow_skip=True)
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, SkipScreen)
        assert "orders[2]@1180" in text_of(app, "#skip-text")
        await pilot.press("y")
        assert not isinstance(app.screen, SkipScreen)
        assert source.skips == [(BLOCKED, 1180)]
        await until(pilot, lambda: "skipped orders[2]@1180" in events_text(app), "the event")
        await pilot.press("s")  # nothing is blocked any more
        assert not isinstance(app.screen, SkipScreen)
        await until(pilot, lambda: "nothing is blocked" in notices(app), "the notice")
    assert source.skips == [(BLOCKED, 1180)]


async def test_s_enter_confirms_too() -> None:
    source = ScriptedSource(allow_skip=True)
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "s", "enter")  # from the blocking record's view
        assert source.skips == [(BLOCKED, 1180)]


async def test_s_cancelled_skips_nothing() -> None:
    source = ScriptedSource(allow_skip=True)
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        for cancel in ("n", "escape"):
            await pilot.press("s")
            assert isinstance(app.screen, SkipScreen)
            await pilot.press(cancel)
            assert not isinstance(app.screen, SkipScreen)
        await until(pilot, lambda: "not skipped: orders[2]@1180" in notices(app), "the notice")
    assert source.skips == []
