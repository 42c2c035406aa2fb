"""A scripted :class:`~.monitor.GroupsSource`: three groups, no broker, no clock.

The groups screen's Pilot tests and snapshots use it; every refresh adds one sample
to each group's window from a fixed script, and peeks and commits are recorded.
"""

from __future__ import annotations

from ..engine.types import TP
from .lag import LagReport, LagWindow, sorted_reports
from .probe import GroupInfo, GroupSample, MemberInfo, PartitionSample
from .selection import CommitTo
from .verdict import Sample

__all__ = ["ScriptedGroups"]

T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


def _members(names: list[tuple[str, tuple[TP, ...]]]) -> tuple[MemberInfo, ...]:
    return tuple(
        MemberInfo(f"{name}-0001", name, f"/10.0.0.{i + 1}", tps)
        for i, (name, tps) in enumerate(names)
    )


class ScriptedGroups:
    """billing (stuck on orders[1]), audit (falling behind), search (empty, caught up)."""

    broker = "scripted"
    interval = 1.0

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self.n = 0
        self._windows = {g: LagWindow(g, window=window) for g in ("billing", "audit", "search")}
        self._reports: list[LagReport] = []
        self.peeks: list[tuple[str, TP]] = []
        self.commits: list[tuple[str, TP, str]] = []

    def reports(self) -> list[LagReport]:
        return self._reports

    def _sample(self, n: int) -> dict[str, GroupSample]:
        at = T0 + n * self.interval
        o0, o1, o2, a0 = TP("orders", 0), TP("orders", 1), TP("orders", 2), TP("audit-log", 0)
        billing = GroupInfo(
            "billing",
            "Stable",
            _members([("billing-a", (o0, o2)), ("billing-b", (o1,))]),
        )
        audit = GroupInfo("audit", "Stable", _members([("audit-1", (a0,))]))
        search = GroupInfo("search", "Empty", ())
        end = 5_000 + 400 * n

        def part(info: GroupInfo, tp: TP, committed: int | None, log_end: int) -> PartitionSample:
            owner = info.owners().get(tp)
            sample = Sample(at, committed, 0, log_end, owned=owner is not None)
            ts = None if committed is None else int((at - 240 - n) * 1000)
            return PartitionSample(tp, sample, owner, ts)

        return {
            "billing": GroupSample(
                at,
                billing,
                {
                    o0: part(billing, o0, end - 3 - n % 2, end),
                    o1: part(billing, o1, 1_204, end),
                    o2: part(billing, o2, end, end),
                },
            ),
            "audit": GroupSample(
                at, audit, {a0: part(audit, a0, 2_000 + 100 * n, 3_000 + 250 * n)}
            ),
            "search": GroupSample(
                at,
                search,
                {o0: part(search, o0, 900, 900), o1: part(search, o1, None, 900)},
            ),
        }

    async def refresh(self) -> None:
        samples = self._sample(self.n)
        self.n += 1
        self._reports = sorted_reports([self._windows[g].add(s) for g, s in samples.items()])

    async def peek(self, group: str, tp: TP) -> str:
        self.peeks.append((group, tp))
        return (
            f"── {tp}  group {group}  committed 1204  log 0..9000 ──\n"
            f'{tp} @1203  {{"order": 3609}}\n'
            f"▶ next for {group} (committed offset 1204)\n"
            f'{tp} @1204  {{"order": 3612}}\n'
        )

    async def commit_plan(self, group: str, tp: TP, to: str) -> str:
        where = CommitTo.parse(to)
        new = 1_204 + where.value if where.kind == "shift" else where.value
        return (
            f"Dry run: commit --to {to} for group {group} on {tp.topic}:{tp.partition}\n"
            f"PARTITION  COMMITTED  NEW  DELTA\n{tp.partition:>9}  1204  {new}  {new - 1204:+d}\n"
        )

    async def commit(self, group: str, tp: TP, to: str) -> str:
        self.commits.append((group, tp, to))
        return f"committed {tp} --to {to} for group {group}"

    async def close(self) -> None:
        pass
