"""DashboardApp: the live dashboard of a :class:`~kconsume.tail.source.DashboardSource`.

It reads the source in two ways, so that a busy topic cannot flood it:

* a timer (at most 10 Hz) polls ``source.snapshot()`` and pushes the data down into
  the panels (attributes down);
* engine events arrive through ``source.subscribe``; the callback only appends to a
  bounded inbox and posts one coalescing :class:`EngineEventsPending` message.

It never starts or stops the engine by itself, except that quitting (``q``) asks the
source to stop first, so that the group commits and leaves before the screen closes.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from ..engine.events import CommitCompleted, CommitStarted, EngineEvent
from ..engine.positions import StartAt
from ..engine.snapshot import EngineSnapshot
from ..engine.types import Event
from ..groups.monitor import GroupsMonitor, GroupsSource
from ..tail.rates import RateMeter
from ..tail.ribbon import LEGEND
from ..tail.source import BlockingRecord, DashboardSource
from .messages import EngineEventsPending
from .screens import (
    FilterScreen,
    GroupsScreen,
    HelpScreen,
    JumpScreen,
    MessageScreen,
    SkipScreen,
)
from .themes import DEFAULT_THEME, available_themes, base_theme, resolve_theme
from .widgets import (
    EventLog,
    MessageLog,
    PartitionsTable,
    SearchBar,
    StatusBar,
    StatusView,
    StreamsTable,
)

__all__ = ["PANELS", "DashboardApp"]

#: Number key -> (panel id, name).
PANELS: dict[int, tuple[str, str]] = {
    1: ("status", "Status"),
    2: ("partitions", "Partitions"),
    3: ("streams", "Streams"),
    4: ("messages-panel", "Messages"),
    5: ("events", "Events"),
}

#: Poll interval of the engine snapshot: 10 Hz at most.
POLL_INTERVAL = 0.1
#: Engine events waiting for the UI beyond this many are counted, not shown.
INBOX_SIZE = 256
#: Events too frequent to list (the Partitions panel shows commit progress).
QUIET_EVENTS = (CommitStarted, CommitCompleted)


class DashboardApp(App[None]):
    """The kconsume dashboard."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "kconsume"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("slash", "search", "Search"),
        Binding("f", "filter", "Filter"),
        Binding("o", "jump", "Jump", show=False),
        Binding("c", "commit", "Commit now"),
        Binding("enter", "inspect", "Inspect"),
        Binding("b", "blocking", "Blocking record"),
        Binding("s", "skip", "Skip blocking", show=False),
        Binding("end", "follow", "Follow", show=False),
        Binding("g", "groups", "Groups"),
        Binding("question_mark", "help", "Help"),
        *(
            Binding(str(n), f"toggle_panel({n})", f"Show/hide {name}", show=False)
            for n, (_, name) in PANELS.items()
        ),
    ]

    def __init__(
        self,
        source: DashboardSource,
        *,
        theme: str | Path = DEFAULT_THEME,
        tz: tzinfo | None = None,
        poll_interval: float | None = POLL_INTERVAL,
        quit_after: float | None = None,
        freeze_gc: bool = False,
        groups: Callable[[], GroupsSource] | None = None,
    ) -> None:
        """``tz`` is the zone times are shown in (None: local).  ``poll_interval`` None
        disables the timer: tests then call :meth:`poll` themselves.  ``quit_after``
        quits by itself after that many seconds.  ``freeze_gc`` moves every object alive
        once the screen is up (the widgets, their styles, the engine's setup) out of the
        garbage collector's reach (``gc.freeze()``), so that the full collections a busy
        topic triggers do not walk them again and again (``kconsume tail`` does).
        ``groups`` makes the source of the groups screen (``g``); by default every group
        of the source's broker."""
        if poll_interval is not None and poll_interval < POLL_INTERVAL:
            raise ValueError(f"the dashboard polls at most every {POLL_INTERVAL}s")
        self.theme_file = resolve_theme(theme)
        layout = Path(__file__).with_name("dashboard.tcss")
        super().__init__(css_path=[layout, self.theme_file])
        self.source = source
        self.tz = tz
        self.poll_interval = poll_interval
        self.meter = RateMeter()
        self.stream_meters: dict[str, RateMeter] = {}
        self.last_snapshot: EngineSnapshot | None = None
        self._inbox: deque[EngineEvent] = deque(maxlen=INBOX_SIZE)
        self._inbox_dropped = 0
        self._inbox_posted = False
        self._unsubscribe: Callable[[], None] | None = None
        self._quitting = False
        #: The widget that had the focus when its panel (by number) was hidden.
        self._focus_lost_with: dict[int, Widget] = {}
        self.quit_after = quit_after
        self.freeze_gc = freeze_gc
        self.theme = base_theme(self.theme_file)
        self.groups = groups

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        for widget, number in (
            (StatusBar(id="status", classes="panel"), 1),
            (PartitionsTable(id="partitions", classes="panel"), 2),
            (StreamsTable(id="streams", classes="panel"), 3),
        ):
            widget.border_title = f"{number} {PANELS[number][1]}"
            yield widget
        with Vertical(id="messages-panel", classes="panel") as messages:
            messages.border_title = "4 Messages"
            yield MessageLog(tz=self.tz, id="messages")
            yield SearchBar(id="search")
        events = EventLog(tz=self.tz, id="events", classes="panel")
        events.border_title = "5 Events"
        yield events
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PartitionsTable).border_subtitle = f"ribbon: {LEGEND}"
        self.query_one(PartitionsTable).has_group = self.source.group is not None
        self._unsubscribe = self.source.subscribe(self._on_source_event)
        self.query_one(MessageLog).focus()
        self.poll()
        if self.poll_interval is not None:
            self.set_interval(self.poll_interval, self.poll, name="poll-engine")
        if self.quit_after is not None:
            self.set_timer(self.quit_after, self.action_quit, name="quit-after")
        if self.freeze_gc:
            self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- reading the source ------------------------------------------------------------

    def poll(self) -> None:
        """Read the engine snapshot and the tail buffer, and push them into the panels."""
        source = self.source
        snapshot = source.snapshot()
        self.last_snapshot = snapshot
        status = source.status
        rates: dict[str, float] = {}
        if snapshot is not None:
            self.meter.add(snapshot.at, snapshot.delivered_total)
            for s in snapshot.streams:
                meter = self.stream_meters.setdefault(s.name, RateMeter())
                rates[s.name] = meter.add(snapshot.at, s.processed)
        main = self._main_screen()
        if main is None:
            return
        log = main.query_one(MessageLog)
        buffer = source.buffer
        with self.batch_update():
            log.sync(buffer)
            main.query_one(StatusBar).show(
                StatusView(
                    state=status.state,
                    detail=status.detail,
                    broker=source.broker,
                    topics=source.topics,
                    group=source.group,
                    generation=snapshot.generation if snapshot else None,
                    member_id=snapshot.member_id if snapshot else None,
                    rate=self.meter.rate,
                    delivered=snapshot.delivered_total if snapshot else 0,
                    tail_shown=len(buffer),
                    # 0: a source whose payloads stay elsewhere (kconsume attach)
                    tail_size=buffer.maxlen if getattr(source, "has_payloads", True) else 0,
                    filter=buffer.expression,
                    filter_errors=buffer.filter_errors,
                    following=log.follow,
                    history=tuple(self.meter.history),
                )
            )
            partitions = main.query_one(PartitionsTable)
            partitions.set_rows(snapshot.partitions if snapshot else ())
            count = len(snapshot.partitions) if snapshot else 0
            partitions.border_title = f"2 Partitions: {', '.join(source.topics)} ({count} assigned)"
            streams = main.query_one(StreamsTable)
            streams.rates = rates
            streams.set_rows(snapshot.streams if snapshot else ())
            if isinstance(self.screen, MessageScreen):
                self.screen.update_live(snapshot)

    def _main_screen(self) -> Screen[Any] | None:
        """The screen with the panels, whatever is shown on top of it (a message view, a
        dialog); None once the app shuts down.  ``self.query_one`` would search the top
        screen, and a timer's tick there raised NoMatches; on shutdown Textual removes the
        panels before it stops the app's timers, hence ``is_running``."""
        if not self.is_running or not self.screen_stack:
            return None
        return self.screen_stack[0]

    def _on_source_event(self, event: EngineEvent) -> None:
        """Bus callback: runs on the engine's task, so it only queues."""
        if isinstance(event, QUIET_EVENTS):
            return
        if len(self._inbox) == self._inbox.maxlen:
            self._inbox_dropped += 1
        self._inbox.append(event)
        if not self._inbox_posted:
            self._inbox_posted = True
            self.post_message(EngineEventsPending())

    def on_engine_events_pending(self, _: EngineEventsPending) -> None:
        self._inbox_posted = False
        events = list(self._inbox)
        self._inbox.clear()
        dropped, self._inbox_dropped = self._inbox_dropped, 0
        main = self._main_screen()
        if main is not None:
            main.query_one(EventLog).add(events, dropped)

    # -- actions -------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.source.set_paused(not self.source.paused)
        self.poll()

    def action_search(self) -> None:
        panel = self.query_one("#messages-panel")
        panel.display = True
        self.query_one(SearchBar).open(self.query_one(MessageLog).search)

    @on(SearchBar.Submitted)
    def _search(self, event: SearchBar.Submitted) -> None:
        log = self.query_one(MessageLog)
        log.focus()
        log.find(event.text)

    @on(SearchBar.Closed)
    def _search_closed(self) -> None:
        self.query_one(MessageLog).focus()

    @on(MessageLog.SearchResult)
    def _search_result(self, event: MessageLog.SearchResult) -> None:
        if not event.found:
            self.notify(f"no (more) messages match {event.text!r}", severity="warning")

    def action_filter(self) -> None:
        self.push_screen(FilterScreen(self.source.buffer.expression), self._apply_filter)

    def _apply_filter(self, expression: str | None) -> None:
        if expression is None:  # cancelled
            return
        self.source.set_filter(expression or None)
        self.poll()

    def action_jump(self) -> None:
        jump = getattr(self.source, "jump", None)
        if jump is None or not getattr(self.source, "can_jump", False):
            if jump is not None:  # says why (a group, not consuming yet)
                jump(StartAt("end"), "end")
            else:
                self.notify("jumping is only available under kconsume tail", severity="warning")
            return
        self.push_screen(JumpScreen(), self._apply_jump)

    def _apply_jump(self, target: tuple[StartAt, str] | None) -> None:
        if target is None:  # cancelled
            return
        start, text = target
        jump = getattr(self.source, "jump", None)
        if jump is not None and jump(start, text):
            log = self.query_one(MessageLog)
            log.follow = True
        self.poll()

    def action_commit(self) -> None:
        self._commit()

    @work(group="commit", exclusive=True)
    async def _commit(self) -> None:
        text = await self.source.commit_now()
        self.notify(text, title="commit now")

    def action_inspect(self) -> None:
        if isinstance(self.screen, MessageScreen):
            return
        event = self.query_one(MessageLog).current()
        if event is not None:
            self._open_message(event)

    @on(MessageLog.Inspect)
    def _inspect(self, message: MessageLog.Inspect) -> None:
        self._open_message(message.event)

    def _open_message(self, event: Event, blocking: BlockingRecord | None = None) -> None:
        decoded = self.source.buffer.decode(event)
        screen = MessageScreen(decoded, tz=self.tz, dark=self.current_theme.dark, blocking=blocking)
        self.push_screen(screen)
        screen.call_after_refresh(screen.update_live, self.last_snapshot)

    def _blocking_record(self) -> BlockingRecord | None:
        record = self.source.blocking_record()
        if record is None:
            self.notify("nothing is blocked: no partition's commit is held back")
        return record

    def action_blocking(self) -> None:
        if isinstance(self.screen, MessageScreen | SkipScreen):
            return
        record = self._blocking_record()
        if record is not None:
            self._open_message(record.event, blocking=record)

    def action_skip(self) -> None:
        if isinstance(self.screen, SkipScreen):
            return
        if not self.source.can_skip:
            self.notify("skipping is only available under kconsume run", severity="warning")
            return
        record = self._blocking_record()
        if record is not None:
            self.push_screen(SkipScreen(record), partial(self._skip, record))

    def _skip(self, record: BlockingRecord, confirmed: bool | None) -> None:
        if not confirmed:
            self.notify(f"not skipped: {record.tp}@{record.offset}")
            return
        if self.source.skip(record.tp, record.offset):
            self.notify(f"skipped {record.tp}@{record.offset}", title="skip")
        self.poll()

    def action_follow(self) -> None:
        log = self.query_one(MessageLog)
        log.follow = True
        log.focus()

    def action_groups(self) -> None:
        if isinstance(self.screen, GroupsScreen):
            return
        source = self.groups() if self.groups is not None else GroupsMonitor(self.source.broker)
        self.push_screen(GroupsScreen(source))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_panel(self, number: int) -> None:
        panel_id, _ = PANELS[number]
        panel: Widget = self.query_one(f"#{panel_id}")
        panel.display = not panel.display
        focused = self.focused
        if not panel.display and focused is not None and panel in focused.ancestors_with_self:
            self._focus_lost_with[number] = focused  # given back when the panel is shown
            self.screen.focus_next()
        elif panel.display and (widget := self._focus_lost_with.pop(number, None)) is not None:
            widget.focus()
        # Without the Messages panel, the Events panel takes the room (CSS).
        messages, _ = PANELS[4]
        self.set_class(not self.query_one(f"#{messages}").display, "-messages-hidden")

    async def action_quit(self) -> None:
        """``q``: stop the source (commit, leave the group), then close.  Pressed again
        while it stops, the stop no longer waits for handlers still on a record."""
        if self._quitting:
            self._hurry_stop()
            return
        self._quitting = True
        self._stop_and_exit()

    @work(group="quit-now", exclusive=True)
    async def _hurry_stop(self) -> None:
        self.notify("stopping now: records still being processed stay uncommitted")
        await self.source.stop()

    @work(group="quit", exclusive=True)
    async def _stop_and_exit(self) -> None:
        self.poll()
        await self.source.stop()
        self.exit()

    # -- command palette ----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        paused = self.source.paused
        yield SystemCommand(
            "Resume consuming" if paused else "Pause consuming",
            "Fetch every assigned partition again" if paused else "Stop fetching (p)",
            self.action_toggle_pause,
        )
        yield SystemCommand("Commit now", "Commit what is committable now (c)", self.action_commit)
        yield SystemCommand(
            "Filter messages", "A --where expression over the messages (f)", self.action_filter
        )
        if self.source.buffer.expression:
            yield SystemCommand(
                "Clear the filter", "Show every message", partial(self._apply_filter, "")
            )
        yield SystemCommand("Search messages", "Highlight and jump to text (/)", self.action_search)
        yield SystemCommand(
            "Follow newest messages", "Scroll to the end and follow (end)", self.action_follow
        )
        yield SystemCommand(
            "Inspect message", "Open the message under the cursor (enter)", self.action_inspect
        )
        yield SystemCommand(
            "Blocking record",
            "Open the record blocking a partition's commit (b)",
            self.action_blocking,
        )
        if self.source.can_skip:
            yield SystemCommand(
                "Skip blocking record",
                "Ack the blocking record without processing it, after a confirmation (s)",
                self.action_skip,
            )
        for number, (_, name) in PANELS.items():
            yield SystemCommand(
                f"Show/hide {name}",
                f"Toggle the {name} panel ({number})",
                partial(self.action_toggle_panel, number),
            )
        for name in available_themes():
            yield SystemCommand(
                f"Theme: {name}", f"Switch to the {name} theme", partial(self.use_theme, name)
            )
        yield SystemCommand(
            "Consumer groups",
            "Every group's lag and Burrow verdict, peek and move offsets (g)",
            self.action_groups,
        )
        yield SystemCommand("Help", "Keys and panels (?)", self.action_help)
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Quit"):
                yield command
        yield SystemCommand("Quit", "Stop consuming, commit, leave the group (q)", self.action_quit)

    def use_theme(self, name: str | Path) -> None:
        """Switch to another theme file while running."""
        path = resolve_theme(name)
        if path == self.theme_file:
            return
        stylesheet = self.stylesheet.copy()
        stylesheet.source.pop((str(self.theme_file), ""), None)
        stylesheet.read(path)
        stylesheet.parse()
        self.stylesheet = stylesheet
        self.css_path = [p for p in self.css_path if Path(p) != self.theme_file] + [path]
        self.theme_file = path
        self.theme = base_theme(path)
        self.stylesheet.update(self)
        for screen in self.screen_stack:
            self.stylesheet.update(screen)
        self.refresh_css()
