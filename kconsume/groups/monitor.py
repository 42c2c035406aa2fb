"""The groups dashboard's domain, no Textual: every group's lag window, kept fresh.

:class:`GroupsSource` is what the groups screen reads and calls; :class:`GroupsMonitor`
is the real one (the broker, through :class:`~.probe.GroupsProbe`, ``peek`` and
``commit``); :class:`~.scripted.ScriptedGroups` is the one tests use.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..engine.types import TP
from ..errors import KConsumeError
from .commit import plan_for, render
from .lag import LagReport, LagWindow, sorted_reports
from .peek import PeekWriter, peek
from .probe import GroupsProbe
from .selection import CommitTo, Selection
from .session import GroupActiveError, active_message, open_session

__all__ = ["GroupsMonitor", "GroupsSource"]


class GroupsSource(Protocol):
    """The groups screen's view of the cluster's groups, and its two actions."""

    broker: str
    interval: float
    """Seconds between samples."""

    def reports(self) -> list[LagReport]:
        """Every group's latest report, worst first."""
        ...

    async def refresh(self) -> None:
        """Take one sample of every group."""
        ...

    async def peek(self, group: str, tp: TP) -> str:
        """The records around the group's committed offset on ``tp``, as text."""
        ...

    async def commit_plan(self, group: str, tp: TP, to: str) -> str:
        """``kconsume commit``'s dry run of ``--to`` on ``tp``, as text."""
        ...

    async def commit(self, group: str, tp: TP, to: str) -> str:
        """``kconsume commit --execute``: what was committed, as text."""
        ...

    async def close(self) -> None: ...


class GroupsMonitor:
    """Every group of the cluster, sampled every :attr:`interval` seconds."""

    def __init__(
        self,
        url: str,
        settings: dict[str, Any] | None = None,
        *,
        interval: float = 1.0,
        window: int = 10,
        allowed_lag: int = 0,
    ) -> None:
        self.broker = url
        self.interval = interval
        self.window = window
        self.allowed_lag = allowed_lag
        self._settings = dict(settings or {})
        self._probe: GroupsProbe | None = None
        self._windows: dict[str, LagWindow] = {}
        self._partitions: dict[str, list[TP]] = {}
        self._reports: list[LagReport] = []
        self._samples = 0

    def reports(self) -> list[LagReport]:
        return self._reports

    async def refresh(self) -> None:
        if self._probe is None:
            probe = GroupsProbe(self.broker, self._settings)
            try:
                await probe.start()
            except BaseException:
                await probe.stop()
                raise
            self._probe = probe
        probe = self._probe
        names = await probe.list_groups()
        infos = await probe.describe(names)
        rescan = self._samples % self.window == 0  # topics change rarely
        for name in names:
            if rescan or name not in self._partitions:
                self._partitions[name] = await probe.group_partitions(infos[name])
            if name not in self._windows:
                self._windows[name] = LagWindow(
                    name, window=self.window, allowed_lag=self.allowed_lag
                )
        for gone in set(self._windows) - set(names):
            del self._windows[gone]
        reports = [
            self._windows[n].add(await probe.sample(n, self._partitions[n], info=infos[n]))
            for n in names
        ]
        self._samples += 1
        self._reports = sorted_reports(reports)

    async def peek(self, group: str, tp: TP) -> str:
        chosen = Selection(tp.topic, (tp.partition,))
        async with open_session(self.broker, group, chosen, self._settings) as session:
            peeked, _ = await peek(session, 2, 3)
        if not peeked:
            return f"group {group} has no committed offset on {tp}"
        writer = PeekWriter(group, "pretty")
        part = peeked[0]
        text = writer.partition(part).decode("utf-8", "replace")
        note = part.note()
        return f"{text}\n{note}" if note else text

    async def commit_plan(self, group: str, tp: TP, to: str) -> str:
        where = CommitTo.parse(to)  # ValueError: the screen says what is wrong
        chosen = Selection(tp.topic, (tp.partition,))
        async with open_session(self.broker, group, chosen, self._settings) as session:
            state = await session.describe()
            plans = await plan_for(session, where)
        text = f"Dry run: commit --to {to} for group {group} on {chosen}\n{render(plans)}"
        if state.active:
            text += f"\nRefused: {active_message(group, state)}"
        return text

    async def commit(self, group: str, tp: TP, to: str) -> str:
        where = CommitTo.parse(to)
        chosen = Selection(tp.topic, (tp.partition,))
        async with open_session(self.broker, group, chosen, self._settings) as session:
            await session.check_inactive()  # GroupActiveError: said to the user
            plans = await plan_for(session, where)
            offsets = {p.tp: p.new for p in plans if p.new is not None}
            if not offsets:
                raise KConsumeError(f"group {group} has no committed offset on {tp} to shift")
            saved = await session.commit(offsets)
        if saved != offsets:
            raise GroupActiveError(f"the broker did not keep the commit: {saved}")
        new = offsets[tp]
        return f"committed {tp} at {new:,} for group {group}"

    async def close(self) -> None:
        if self._probe is not None:
            await self._probe.stop()
            self._probe = None
