"""The groups screen's panels: the groups, the selected group's partitions, its verdict.

Reports come down from the screen (:meth:`set_reports`, :meth:`show`); the groups
table says which group is selected by posting :class:`GroupsTable.Selected` up.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable, Static

from ...groups.lag import LagReport, PartitionLag, sparkline
from ...groups.verdict import format_seconds

__all__ = ["GroupPartitionsTable", "GroupsTable", "VerdictView", "verdict_style"]

#: Width of the lag sparkline (one bar per sample).
SPARK_WIDTH = 10

STYLES = {
    "ERR": "bold red",
    "STOP": "bold red",
    "STALL": "bold red",
    "REWIND": "bold magenta",
    "WARN": "bold yellow",
    "OK": "green",
    "NOTFOUND": "dim",
}


def verdict_style(verdict: str | None) -> str:
    return STYLES.get(verdict or "", "dim")


def _num(value: int | None) -> Text:
    return Text("-" if value is None else f"{value:,}", justify="right")


class GroupsTable(DataTable[Text | str]):
    """One row per group, worst first."""

    @dataclass
    class Selected(Message):
        group: str

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = False
        for label in ("group", "state", "members", "topics", "lag", "worst partition", "verdict"):
            self.add_column(label, key=label)

    def set_reports(self, reports: list[LagReport], selected: str | None) -> None:
        self.clear()
        for r in reports:
            worst = r.worst
            worst_text = (
                "-"
                if worst is None or not worst.sample.lag
                else f"{worst.tp} ({worst.sample.lag:,})"
            )
            self.add_row(
                r.group,
                r.state,
                Text(str(r.members), justify="right"),
                ", ".join(r.topics) or "-",
                _num(r.total_lag),
                worst_text,
                Text(str(r.verdict), style=verdict_style(str(r.verdict))),
                key=r.group,
            )
        if selected is not None and selected in (r.group for r in reports):
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.post_message(self.Selected(event.row_key.value))


class GroupPartitionsTable(DataTable[Text | str]):
    """The selected group's partitions: lag over the window, time lag, ETA, verdict."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label in (
            "partition", "owner", "committed", "log end", "lag", "lag over window",
            "time lag", "eta", "verdict",
        ):  # fmt: skip
            self.add_column(label, key=label)

    def show(self, report: LagReport | None) -> None:
        keep = self.cursor_row
        self.clear()
        if report is None:
            return
        unknown = "?" if report.members and not report.assignments_known else "-"
        for p in report.partitions:
            self.add_row(
                str(p.tp),
                p.owner or unknown,
                _num(p.sample.committed),
                _num(p.sample.log_end),
                _num(p.sample.lag),
                sparkline(p.lags, SPARK_WIDTH),
                "-" if p.time_lag is None else format_seconds(p.time_lag),
                p.rates.eta_text if p.sample.committed is not None else "-",
                Text(str(p.verdict.verdict or "-"), style=verdict_style(p.verdict.verdict)),
                key=str(p.tp),
            )
        if report.partitions:
            self.move_cursor(row=min(keep, len(report.partitions) - 1), animate=False)

    def current(self, report: LagReport | None) -> PartitionLag | None:
        if report is None or not report.partitions:
            return None
        return report.partitions[min(self.cursor_row, len(report.partitions) - 1)]


class VerdictView(Static):
    """The group's verdict with its reason, and the selected partition's."""

    def show(self, report: LagReport | None, partition: PartitionLag | None) -> None:
        if report is None:
            self.update("no consumer groups yet")
            return
        text = Text()
        text.append(f"{report.group}  ", style="bold")
        text.append(str(report.verdict), style=verdict_style(str(report.verdict)))
        text.append(
            f"  {report.state}, {report.members} member{'s' if report.members != 1 else ''}, "
            f"lag {report.total_lag:,}, {report.samples}/{report.window} samples\n"
        )
        text.append(report.reason)
        if partition is not None:
            text.append(f"\n{partition.tp}  ", style="bold")
            verdict = partition.verdict.verdict
            text.append(str(verdict or "no verdict"), style=verdict_style(verdict))
            text.append(f"  {partition.note or partition.verdict.reason}")
        self.update(text)
