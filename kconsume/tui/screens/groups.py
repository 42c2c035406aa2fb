"""The groups screen: every consumer group, the selected one's partitions and verdict.

Reached by ``kconsume groups --watch`` (:class:`~kconsume.tui.groups_app.GroupsApp`)
and from the tail/run dashboard with ``g``.  It refreshes its
:class:`~kconsume.groups.monitor.GroupsSource` every ``source.interval`` seconds (in a
worker: the broker I/O never blocks the screen) and pushes the reports down into its
panels.  Keys: ``v`` peeks at the selected partition's committed record (``kconsume
peek``), ``o`` moves its offset (``kconsume commit``'s dry run, then ``x`` executes),
``r`` refreshes now, ``tab`` moves between the tables, ``esc`` leaves.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from ...errors import KConsumeError
from ...groups.lag import LagReport, PartitionLag
from ...groups.monitor import GroupsSource
from ..widgets.groups import GroupPartitionsTable, GroupsTable, VerdictView
from .group_actions import CommitScreen, PeekScreen

__all__ = ["GroupsScreen"]


class GroupsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "peek", "Peek committed record"),
        Binding("o", "move_offset", "Move offset"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(
        self, source: GroupsSource, *, standalone: bool = False, auto_refresh: bool = True
    ) -> None:
        """``standalone``: the app's only screen (esc quits); else pushed over the
        dashboard (esc goes back).  ``auto_refresh`` False: no timer (tests call
        :meth:`refresh_now`)."""
        super().__init__()
        self.source = source
        self.standalone = standalone
        self.refresh_on_timer = auto_refresh
        self.selected: str | None = None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        groups = GroupsTable(id="groups-table", classes="panel")
        groups.border_title = "Consumer groups"
        yield groups
        parts = GroupPartitionsTable(id="group-partitions", classes="panel")
        parts.border_title = "Partitions"
        yield parts
        verdict = VerdictView(id="group-verdict", classes="panel")
        verdict.border_title = "Verdict"
        yield verdict
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(GroupsTable).border_subtitle = f"{self.source.broker}"
        self.query_one(GroupsTable).focus()
        self.query_one(VerdictView).update("sampling the groups…")
        if self.refresh_on_timer:
            self.action_refresh()
            self.set_interval(self.source.interval, self.action_refresh, name="refresh-groups")

    # -- data down --------------------------------------------------------------------------

    def report(self) -> LagReport | None:
        reports = self.source.reports()
        return next((r for r in reports if r.group == self.selected), None) or (
            reports[0] if reports else None
        )

    def partition(self) -> PartitionLag | None:
        return self.query_one(GroupPartitionsTable).current(self.report())

    def show(self) -> None:
        reports = self.source.reports()
        if self.selected is None and reports:
            self.selected = reports[0].group
        with self.app.batch_update():
            self.query_one(GroupsTable).set_reports(reports, self.selected)
            self.show_selected()

    def show_selected(self) -> None:
        report = self.report()
        parts = self.query_one(GroupPartitionsTable)
        parts.show(report)
        parts.border_title = f"Partitions of {report.group}" if report else "Partitions"
        self.query_one(VerdictView).show(report, self.partition())
        if self.error:
            self.query_one(VerdictView).border_subtitle = self.error

    # -- messages up --------------------------------------------------------------------------

    @on(GroupsTable.Selected)
    def _selected(self, message: GroupsTable.Selected) -> None:
        if message.group != self.selected:
            self.selected = message.group
            self.show_selected()

    @on(DataTable.RowHighlighted, "#group-partitions")
    def _partition_highlighted(self) -> None:
        self.query_one(VerdictView).show(self.report(), self.partition())

    # -- actions -----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._refresh()

    @work(group="groups-refresh", exclusive=True)
    async def _refresh(self) -> None:
        await self.refresh_now()

    async def refresh_now(self) -> None:
        try:
            await self.source.refresh()
            self.error = None
        except KConsumeError as exc:
            self.error = str(exc)
        self.query_one(VerdictView).border_subtitle = self.error or ""
        self.show()

    def action_peek(self) -> None:
        report, part = self.report(), self.partition()
        if report is None or part is None:
            return
        self._peek(report.group, part)

    @work(group="groups-peek", exclusive=True)
    async def _peek(self, group: str, part: PartitionLag) -> None:
        try:
            text = await self.source.peek(group, part.tp)
        except KConsumeError as exc:
            self.notify(str(exc), severity="error", title="peek")
            return
        self.app.push_screen(PeekScreen(f"{group} on {part.tp}: the committed record", text))

    def action_move_offset(self) -> None:
        report, part = self.report(), self.partition()
        if report is None or part is None:
            return
        self.app.push_screen(
            CommitScreen(
                report.group, part.tp, partial(self.source.commit_plan, report.group, part.tp)
            ),
            partial(self._execute, report.group, part),
        )

    def _execute(self, group: str, part: PartitionLag, to: str | None) -> None:
        if to is None:
            self.notify("nothing committed", title="move offset")
            return
        self._commit(group, part, to)

    @work(group="groups-commit", exclusive=True)
    async def _commit(self, group: str, part: PartitionLag, to: str) -> None:
        try:
            text = await self.source.commit(group, part.tp, to)
        except (ValueError, KConsumeError) as exc:
            self.notify(str(exc), severity="error", title="move offset")
            return
        self.notify(text, title="move offset")
        await self.refresh_now()

    def action_leave(self) -> None:
        if self.standalone:
            self.app.exit()
        else:
            self.app.pop_screen()

    async def on_unmount(self) -> None:
        await self.source.close()
