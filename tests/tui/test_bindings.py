"""Every key of the dashboard, driven with Pilot against the scripted source."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input

from kconsume.engine.events import DecodeError
from kconsume.engine.types import TP
from kconsume.tui.app import INBOX_SIZE, PANELS, DashboardApp
from kconsume.tui.messages import EngineEventsPending
from kconsume.tui.screens import KEYS, FilterScreen, HelpScreen, MessageScreen
from kconsume.tui.widgets import EventLog, MessageLog, SearchBar
from tests.tui.scripted_source import ScriptedSource

from .conftest import SIZE, dashboard, settle, text_of


async def until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    """Let the app run until ``condition`` holds (bounded number of turns, no fixed sleeps)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"never happened: {what}")


async def test_p_pauses_and_resumes_consuming(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        assert "CONSUMING" in text_of(app, "#status-state")
        await pilot.press("p")
        assert source.paused
        assert "PAUSED" in text_of(app, "#status-state")
        await pilot.press("p")
        assert not source.paused
        assert "CONSUMING" in text_of(app, "#status-state")
        await until(pilot, lambda: "resumed fetching" in events_text(app), "the notice")


def events_text(app: DashboardApp) -> str:
    log = app.query_one(EventLog)
    return "\n".join(line.text for line in log.lines)


async def test_slash_searches_and_n_moves_between_matches(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(MessageLog)
        await pilot.press("slash")
        bar = app.query_one(SearchBar)
        assert bar.has_class("-open")
        assert isinstance(app.focused, Input)
        await pilot.press(*"c02", "enter")
        assert not bar.has_class("-open")
        assert app.focused is log
        assert not log.follow
        first = log.cursor
        assert first is not None
        assert "c02" in log.rows[first].key
        await pilot.press("N")  # an older match
        older = log.cursor
        assert older is not None and older < first and "c02" in log.rows[older].key
        await pilot.press("n")  # back to the newer one
        assert log.cursor == first
        await pilot.press("slash", "escape")
        assert not bar.has_class("-open")
        assert app.focused is log


async def test_f_sets_a_filter_and_shows_errors_inline(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press(*"value[", "enter")
        assert isinstance(app.screen, FilterScreen)  # still open: nothing crashed
        error = text_of(app, "#filter-error")
        assert "never closed" in error and "^" in error
        assert source.filters == []
        field = app.screen.query_one(Input)
        field.value = ""
        await pilot.press(*"partition == 2 and value['total'] > 300", "enter")
        assert not isinstance(app.screen, FilterScreen)
        assert source.filters == ["partition == 2 and value['total'] > 300"]
        app.poll()
        await pilot.pause()
        rows = app.query_one(MessageLog).rows
        assert rows and all(e.partition == 2 and e.value["total"] > 300 for e in rows)
        assert "filter partition == 2" in text_of(app, "#status-state")
        await pilot.press("f")  # an empty filter clears it
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        assert source.filters[-1] is None
        await pilot.press("f", "escape")  # escape cancels: nothing changes
        assert len(source.filters) == 2


async def test_enter_opens_the_message_with_its_refcount_and_holders(
    source: ScriptedSource,
) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home", "down", "down")  # the third message: orders[2]@1180
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        assert screen.event.message.tp == TP("orders", 2)
        assert screen.event.message.offset == 1180
        app.poll()
        await pilot.pause()
        live = str(screen.live_rows(app.last_snapshot))
        assert "held by billing" in live
        assert "oldest in flight" in live and "the engine warned" in live
        await pilot.press("escape")
        assert not isinstance(app.screen, MessageScreen)


async def test_enter_while_following_opens_the_newest(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, MessageScreen)
        assert app.screen.event is source.buffer.view[-1]


async def test_c_commits_now(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await until(pilot, lambda: source.commits == 1, "a commit")
        await until(pilot, lambda: "commit now: nothing new" in events_text(app), "its notice")


async def test_question_mark_shows_every_key(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
    listed = " ".join(key for key, _ in KEYS)
    for binding in DashboardApp.BINDINGS:
        key = binding.key if hasattr(binding, "key") else binding[0]  # type: ignore[index]
        shown = {"slash": "/", "question_mark": "?"}.get(key, key)
        assert shown in listed, f"{key} is missing from the help"


async def test_q_stops_the_source_then_quits(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: source.stopped, "the source stopped")
        await until(pilot, lambda: app.return_code == 0, "the app exited")


async def test_number_keys_show_and_hide_panels(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        for number, (panel_id, _) in PANELS.items():
            panel = app.query_one(f"#{panel_id}")
            assert panel.display
            await pilot.press(str(number))
            assert not panel.display
            await pilot.press(str(number))
            assert panel.display


async def test_hiding_the_focused_panel_moves_the_focus(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is app.query_one(MessageLog)
        await pilot.press("4")
        assert app.focused is not app.query_one(MessageLog)


async def test_scrolling_up_stops_following_and_end_follows_again() -> None:
    source = ScriptedSource(buffer_size=300)
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(MessageLog)
        assert log.follow and log.scroll_y == log.max_scroll_y > 0
        log.scroll_to(y=log.scroll_y - 10, animate=False, immediate=True)  # as a mouse wheel does
        assert not log.follow
        top = log.rows[round(log.scroll_y)]
        source.add_messages(100)  # 40 of the 300 fall off the buffer's front
        app.poll()
        await pilot.pause()
        assert log.rows[round(log.scroll_y)] is top  # the lines on screen stay put
        assert "scrolled back" in text_of(app, "#status-state")
        await pilot.press("end")
        assert log.follow and log.cursor is None
        assert log.scroll_y == log.max_scroll_y
        source.add_messages(5)
        app.poll()
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        assert log.rows[-1] is source.buffer.view[-1]


async def test_cursor_keys_move_and_stop_following(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(MessageLog)
        await pilot.press("up")
        assert not log.follow and log.cursor == len(log.rows) - 1
        await pilot.press("up", "pageup", "down")
        assert log.cursor is not None and log.cursor < len(log.rows) - 2
        await pilot.press("home")
        assert log.cursor == 0 and log.scroll_y == 0
        await pilot.press("pagedown")
        assert log.cursor > 0


async def test_command_palette_runs_dashboard_actions(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"pause consuming")
        await until(
            pilot,
            lambda: (
                "Pause consuming"
                in str(app.screen.query("CommandList").first().get_option_at_index(0).prompt)
                if app.screen.query("CommandList").first().option_count
                else False
            ),
            "the command found",
        )
        await pilot.press("enter")
        await until(pilot, lambda: source.paused, "paused from the palette")


async def test_a_flood_of_events_is_bounded(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(EventLog)
        await until(pilot, lambda: log.count == len(source.history), "the scripted history")
        before = log.count
        for i in range(10_000):
            source.publish(
                DecodeError(tp=TP("orders", 0), offset=i, streams=("audit",), error="bad", at=0.0)
            )
        await until(pilot, lambda: "came too fast" in events_text(app), "the overflow line")
        assert log.count - before <= INBOX_SIZE


async def test_snapshot_polls_drive_rates(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 40)
        assert 300 < app.meter.rate < 520
        assert len(app.meter.history) >= 3


async def test_follows_messages_that_arrive_after_the_screen_is_up() -> None:
    source = ScriptedSource(messages=0)
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(MessageLog)
        assert not log.rows
        source.add_messages(300)  # all in one poll, once the screen is laid out
        app.poll()
        await pilot.pause()
        assert log.follow and log.max_scroll_y > 0
        assert log.scroll_y == log.max_scroll_y


async def test_every_ribbon_legend_names_the_blocking_cell(source: ScriptedSource) -> None:
    """The ribbon draws ▓ for the blocking offset: the `?` help and the Partitions
    panel's legends say so too."""
    from kconsume.tui.widgets import PartitionsTable

    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PartitionsTable)
        assert "▓ blocking" in str(table.border_subtitle)
        header = "".join(s.text for s in table.render_header(200, table.rich_style))
        assert "▓ blocking" in header
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = "".join(
            segment.text
            for y in range(app.size.height)
            for segment in app.screen._compositor.render_update(full=True).strips[y]  # type: ignore[attr-defined]
        )
        assert "▓ blocking" in shown


async def test_hiding_and_showing_messages_gives_the_focus_back(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        log = app.query_one(MessageLog)
        assert app.focused is log
        await pilot.press("4", "4")
        assert app.focused is log
        await pilot.press("up")  # the keys reach the messages at once
        assert not log.follow and log.cursor is not None


async def test_events_take_the_room_of_hidden_panels(source: ScriptedSource) -> None:
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        events = app.query_one(EventLog)
        assert events.region.height == 9
        await pilot.press("1", "2", "3", "4")
        await pilot.pause()
        assert events.region.height > 40
        await pilot.press("4")
        await pilot.pause()
        assert events.region.height == 9


async def test_the_message_view_writes_offsets_as_the_list_does(source: ScriptedSource) -> None:
    """``@1180``, as in the list and as ``-o`` takes it, never ``1,180``."""
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home", "down", "down", "enter")  # orders[2]@1180, blocking
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        dialog = screen.query_one("#message-dialog")
        assert dialog.border_title == "orders[2] @1180"
        fields = dict(zip(*(c._cells for c in screen._fields().columns), strict=True))  # type: ignore[attr-defined]
        assert fields["offset"] == "1180"
        live = str(screen.live_rows(app.last_snapshot))
        assert "1180" in live and "1,1" not in live


async def test_a_poll_while_the_app_closes_finds_nothing_to_update(source: ScriptedSource) -> None:
    """Textual removes the panels before it stops the app's timers: a poll tick in between
    must not look for them (CI saw ``NoMatches: MessageLog`` once in a hundred runs)."""
    polled: list[BaseException | None] = []

    class PollsOnUnmount(Widget):
        def on_unmount(self) -> None:
            try:
                app.poll()
                app.on_engine_events_pending(EngineEventsPending())
            except BaseException as exc:
                polled.append(exc)
            else:
                polled.append(None)

    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await app.screen.query_one(MessageLog).mount(PollsOnUnmount())
        await pilot.pause()
    assert polled == [None]
