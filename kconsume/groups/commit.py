"""``commit``: move a group's committed offsets, shown first as a dry run.

:func:`plan` is pure (tested without a broker): from ``--to``, the log bounds
and the committed offsets it gives each partition its new offset, clamped to
``[log start, log end]``, with a note saying why when it is not simply the
requested one.  :func:`plan_for` does the I/O around it; :func:`render` draws the
table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.types import TP
from .selection import CommitTo
from .session import GroupSession

__all__ = ["PartitionPlan", "plan", "plan_for", "render"]


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    tp: TP
    log_start: int
    log_end: int
    committed: int | None
    new: int | None
    """None: the partition is left as it is (see ``note``)."""
    note: str = ""

    @property
    def delta(self) -> int | None:
        if self.new is None or self.committed is None:
            return None
        return self.new - self.committed


def _clamp(wanted: int, start: int, end: int) -> tuple[int, str]:
    if wanted < start:
        return start, f"clamped to the log start (wanted {wanted})"
    if wanted > end:
        return end, f"clamped to the log end (wanted {wanted})"
    return wanted, ""


def plan(
    to: CommitTo,
    bounds: Mapping[TP, tuple[int, int]],
    committed: Mapping[TP, int | None],
    at_time: Mapping[TP, tuple[int, bool]] | None = None,
) -> list[PartitionPlan]:
    """The new offset of every partition in ``bounds``.

    * ``N``: offset N; ``beginning``/``end``: the log start/end;
    * ``+N``/``-N``: the committed offset shifted by N; a partition with no
      committed offset is left alone (there is nothing to shift from), as
      ``kafka-consumer-groups --shift-by`` refuses it;
    * ``@TIME``: ``at_time[tp]``, ``(offset, found)`` from the broker, the log end
      when no record is that recent.

    Every new offset is clamped to ``[log start, log end]``.
    """
    out: list[PartitionPlan] = []
    for tp in sorted(bounds):
        start, end = bounds[tp]
        current = committed.get(tp)
        note = ""
        if to.kind == "beginning":
            wanted = start
        elif to.kind == "end":
            wanted = end
        elif to.kind == "offset":
            wanted = to.value
        elif to.kind == "shift":
            if current is None:
                out.append(
                    PartitionPlan(tp, start, end, None, None, "no committed offset to shift from")
                )
                continue
            wanted = current + to.value
        else:  # time
            if at_time is None:
                raise ValueError("plan(): --to @TIME needs at_time")
            wanted, found = at_time[tp]
            if not found:
                note = "no record at or after the time: the log end"
        new, clamp_note = _clamp(wanted, start, end)
        out.append(PartitionPlan(tp, start, end, current, new, clamp_note or note))
    return out


async def plan_for(session: GroupSession, to: CommitTo) -> list[PartitionPlan]:
    """Read what :func:`plan` needs from the broker, and plan."""
    committed = await session.committed()
    bounds = await session.bounds()
    at_time = await session.offsets_for_time(to.value, bounds) if to.kind == "time" else None
    return plan(to, bounds, committed, at_time)


def _cell(value: int | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+d}" if signed and value else str(value)


def render(plans: list[PartitionPlan]) -> str:
    """The dry-run table: one line per partition, numbers right-aligned."""
    header = ("PARTITION", "LOG START", "LOG END", "COMMITTED", "NEW", "DELTA")
    rows = [
        (
            str(p.tp.partition),
            str(p.log_start),
            str(p.log_end),
            _cell(p.committed),
            _cell(p.new),
            _cell(p.delta, signed=True),
            p.note,
        )
        for p in plans
    ]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)) + "  NOTE"]
    for row in rows:
        cells = "  ".join(c.rjust(w) for c, w in zip(row[:-1], widths, strict=True))
        lines.append(f"{cells}  {row[-1]}".rstrip())
    return "\n".join(lines) + "\n"
