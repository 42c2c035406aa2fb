"""A group's lag over a sliding window of samples: verdicts, rates, time lag, ETA.

:class:`LagWindow` keeps the last ``window`` samples of one group (no I/O: the
samples come from :class:`~.probe.GroupsProbe`) and turns them into a
:class:`LagReport`, which :func:`render_lag` draws as a table and
:meth:`LagReport.to_json` as one JSON document.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..engine.types import TP
from .probe import GroupSample
from .verdict import (
    GROUP_SEVERITY,
    SEVERITY,
    GroupVerdict,
    PartitionVerdict,
    Rates,
    Sample,
    evaluate,
    format_seconds,
    group_verdict,
    rates,
)

__all__ = [
    "LagReport",
    "LagWindow",
    "PartitionLag",
    "render_groups",
    "render_lag",
    "sorted_reports",
    "sparkline",
]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    tp: TP
    owner: str | None
    sample: Sample
    time_lag: float | None
    rates: Rates
    verdict: PartitionVerdict
    lags: tuple[int, ...]
    """The lag of each sample in the window (for sparklines)."""

    @property
    def note(self) -> str:
        s = self.sample
        if s.committed is None:
            return "no committed offset"
        if s.below_start:
            return (
                f"committed offset {s.committed:,} is below the log start {s.log_start:,} "
                "(retention deleted those records): lag counted from the log start"
            )
        if s.committed > s.log_end:
            return f"committed offset {s.committed:,} is past the log end {s.log_end:,}"
        return ""

    def to_json(self) -> dict[str, Any]:
        s, r = self.sample, self.rates
        return {
            "topic": self.tp.topic,
            "partition": self.tp.partition,
            "owner": self.owner,
            "committed": s.committed,
            "log_start": s.log_start,
            "log_end": s.log_end,
            "lag": s.lag,
            "below_log_start": s.below_start,
            "time_lag_s": None if self.time_lag is None else round(self.time_lag, 3),
            "commit_rate": _round(r.commit_rate),
            "consume_rate": _round(r.consume_rate),
            "produce_rate": _round(r.produce_rate),
            "eta_s": _round(r.eta),
            "eta": r.eta_text,
            "verdict": None if self.verdict.verdict is None else str(self.verdict.verdict),
            "reason": self.verdict.reason,
            "note": self.note or None,
            "lags": list(self.lags),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True, slots=True)
class LagReport:
    group: str
    at: float
    state: str
    members: int
    assignments_known: bool
    samples: int
    window: int
    partitions: tuple[PartitionLag, ...]
    verdict: GroupVerdict
    reason: str

    @property
    def complete(self) -> bool:
        return all(p.verdict.complete or p.verdict.verdict is None for p in self.partitions)

    @property
    def total_lag(self) -> int:
        return sum(p.sample.lag or 0 for p in self.partitions)

    @property
    def worst(self) -> PartitionLag | None:
        """The partition with the worst verdict, then the largest lag."""
        if not self.partitions:
            return None
        return max(self.partitions, key=lambda p: (SEVERITY[p.verdict.verdict], p.sample.lag or 0))

    @property
    def topics(self) -> list[str]:
        return sorted({p.tp.topic for p in self.partitions})

    @property
    def severity(self) -> tuple[int, int]:
        return GROUP_SEVERITY[self.verdict], self.total_lag

    def to_json(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "group": self.group,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds"),
            "state": self.state,
            "members": self.members,
            "assignments_known": self.assignments_known,
            "topics": self.topics,
            "samples": self.samples,
            "window": self.window,
            "complete": self.complete,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "total_lag": self.total_lag,
            "worst_partition": None
            if worst is None
            else {
                "topic": worst.tp.topic,
                "partition": worst.tp.partition,
                "lag": worst.sample.lag,
            },
            "partitions": [p.to_json() for p in self.partitions],
        }


class LagWindow:
    """The last ``window`` samples of one group, judged as Burrow would."""

    def __init__(self, group: str, *, window: int = 10, allowed_lag: int = 0) -> None:
        if window < 2:
            raise ValueError("the window needs at least 2 samples")
        self.group = group
        self.window = window
        self.allowed_lag = allowed_lag
        self.samples: deque[GroupSample] = deque(maxlen=window)

    def add(self, sample: GroupSample) -> LagReport:
        self.samples.append(sample)
        return self.report()

    def report(self) -> LagReport:
        last = self.samples[-1]
        parts: list[PartitionLag] = []
        for tp, now in sorted(last.partitions.items()):
            history = [g.partitions[tp].sample for g in self.samples if tp in g.partitions]
            verdict = evaluate(history, allowed_lag=self.allowed_lag, window=self.window)
            owner = now.owner.name if now.owner is not None else None
            parts.append(
                PartitionLag(
                    tp,
                    owner,
                    now.sample,
                    last.time_lag(tp),
                    rates(history),
                    verdict,
                    tuple(s.lag or 0 for s in history),
                )
            )
        info = last.info
        if not info.members and all(p.sample.committed is None for p in parts):
            status = GroupVerdict.NOTFOUND
            reason = "no such group: no members and no committed offsets"
        else:
            status = group_verdict(p.verdict.verdict for p in parts)
            reason = _group_reason(status, parts)
        return LagReport(
            self.group,
            last.at,
            info.state,
            len(info.members),
            info.assignments_known,
            len(self.samples),
            self.window,
            tuple(parts),
            status,
            reason,
        )


def _group_reason(status: GroupVerdict, parts: list[PartitionLag]) -> str:
    if not parts:
        return "no committed offsets and no assigned partitions"
    worst = max(parts, key=lambda p: (SEVERITY[p.verdict.verdict], p.sample.lag or 0))
    if status is not GroupVerdict.OK:
        return f"{worst.tp} {worst.verdict.verdict}: {worst.verdict.reason}"
    if not any(p.verdict.complete for p in parts if p.verdict.verdict is not None):
        pending = next((p for p in parts if p.verdict.verdict is not None), None)
        if pending is not None and "incomplete" in pending.verdict.reason:
            return pending.verdict.reason
    total = sum(p.sample.lag or 0 for p in parts)
    if total == 0:
        return "every partition caught up (lag 0)"
    return f"lag {total:,} in total, every partition keeps up"


# -- rendering ------------------------------------------------------------------------------


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else format_seconds(seconds)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], left: int = 1) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        out = [
            c.ljust(w) if i < left or i == len(cells) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    return [line(header), *(line(r) for r in rows)]


def render_lag(report: LagReport) -> str:
    """The ``kconsume lag`` table: a head line, a row per partition, reasons below."""
    when = datetime.fromtimestamp(report.at, UTC).strftime("%H:%M:%S")
    members = f"{report.members} member{'s' if report.members != 1 else ''}"
    head = (
        f"group {report.group}  {report.state}, {members}  {report.verdict}  "
        f"lag {report.total_lag:,}  ({report.samples}/{report.window} samples, {when} UTC)"
    )
    header = (
        "TOPIC", "PARTITION", "COMMITTED", "LOG END", "LAG", "TIME LAG", "COMMIT/S",
        "CONSUME/S", "ETA", "VERDICT", "OWNER",
    )  # fmt: skip
    unknown = "?" if report.members and not report.assignments_known else "-"
    rows = [
        (
            p.tp.topic,
            str(p.tp.partition),
            _cell(p.sample.committed),
            _cell(p.sample.log_end),
            _cell(p.sample.lag),
            _age(p.time_lag),
            _rate(p.rates.commit_rate),
            _rate(p.rates.consume_rate),
            p.rates.eta_text if p.sample.committed is not None else "-",
            str(p.verdict.verdict) if p.verdict.verdict is not None else "-",
            p.owner or unknown,
        )
        for p in report.partitions
    ]
    lines = [head, f"  {report.reason}", ""]
    lines += _table(header, rows, left=1)
    notes = [
        f"  {p.tp}: {p.verdict.verdict or 'no verdict'}: {p.note or p.verdict.reason}"
        for p in report.partitions
        if p.note or (p.verdict.verdict is not None and p.verdict.verdict != "OK")
    ]
    if notes:
        lines += ["", *notes]
    if unknown == "?":
        lines += ["", "  OWNER ?: the broker's DescribeGroups gave no member assignments"]
    return "\n".join(lines) + "\n"


def render_groups(reports: list[LagReport]) -> str:
    """The ``kconsume groups`` table: a row per group, worst first."""
    header = ("GROUP", "STATE", "MEMBERS", "TOPICS", "LAG", "WORST PARTITION", "VERDICT", "REASON")
    rows = []
    for r in reports:
        worst = r.worst
        rows.append(
            (
                r.group,
                r.state,
                str(r.members),
                ",".join(r.topics) or "-",
                f"{r.total_lag:,}",
                "-"
                if worst is None or not worst.sample.lag
                else f"{worst.tp} ({worst.sample.lag:,})",
                str(r.verdict),
                r.reason,
            )
        )
    lines = _table(header, rows, left=4)
    return "\n".join(lines) + "\n"


def sorted_reports(reports: list[LagReport]) -> list[LagReport]:
    """Worst first: ERR, WARN, OK (NOTFOUND last), larger total lag first, then by name."""
    return sorted(reports, key=lambda r: (-r.severity[0], -r.severity[1], r.group))


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int], width: int) -> str:
    """The last ``width`` values as bars scaled to the largest (all 0: the lowest bar)."""
    shown = list(values)[-width:]
    top = max(shown, default=0)
    if top <= 0:
        return BARS[0] * len(shown)
    return "".join(BARS[min(len(BARS) - 1, v * (len(BARS) - 1) // top)] for v in shown)
