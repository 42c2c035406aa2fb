"""Burrow's lag evaluation over a window of samples that kconsume takes itself.

Pure: no I/O, no clock.  :func:`evaluate` judges one partition from its window of
:class:`Sample` s (oldest first); :func:`group_verdict` folds partition verdicts into
the group's.  The order of the rules is Burrow's code's (``calculatePartitionStatus``
in ``core/internal/evaluator/caching.go``), not its wiki's:

1. lag at or under ``allowed_lag`` now: **OK**;
2. **STOP**: longer since the last commit than the window's commits span, and the
   log end was never at or under the last committed offset in the window;
3. lag at or under ``allowed_lag`` in any sample of the window: **OK**;
4. **REWIND**: the committed offset went back between two samples;
5. **STALL** when the committed offset is the same in every sample;
6. **WARN** when it moves but the lag never decreases from one sample to the next;
7. otherwise **OK**.

Burrow's window holds the group's *commits* with their times.  From outside the
group only the committed offset can be read (OffsetFetch carries no commit time),
so each sample stands for a commit: a sample "saw a commit" when the committed
offset changed since the previous sample, or when a live member owns the partition
(its commits of an unchanged offset are invisible, but it is there to make them).
A partition nobody owns whose offset does not move has not been committed since the
first sample that showed that offset.  That is the one difference in substance from
Burrow, stated in docs/groups.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "GroupVerdict",
    "PartitionVerdict",
    "Rates",
    "Sample",
    "Verdict",
    "evaluate",
    "group_verdict",
    "rates",
]


class Verdict(StrEnum):
    """A partition's status, Burrow's names."""

    OK = "OK"
    WARN = "WARN"
    STOP = "STOP"
    STALL = "STALL"
    REWIND = "REWIND"


class GroupVerdict(StrEnum):
    """A group's status: the worst partition's, STOP, STALL and REWIND counting as ERR."""

    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"
    NOTFOUND = "NOTFOUND"


#: Partition verdicts that make a group ERR.
ERRORS = frozenset({Verdict.STOP, Verdict.STALL, Verdict.REWIND})


@dataclass(frozen=True, slots=True)
class Sample:
    """One partition of one group at one moment."""

    at: float
    """When the sample was taken (seconds, any epoch shared by the window)."""
    committed: int | None
    """The group's committed offset (None: it has none)."""
    log_start: int
    log_end: int
    owned: bool = False
    """A live member of the group owns the partition."""

    @property
    def below_start(self) -> bool:
        """The committed offset is below the log start: retention deleted its records."""
        return self.committed is not None and self.committed < self.log_start

    @property
    def lag(self) -> int | None:
        """Records the group has still to read: from its committed offset, or from the
        log start when retention deleted the records at the committed offset (those
        cannot be read any more: counting them would be phantom lag).  Never negative."""
        if self.committed is None:
            return None
        return max(0, self.log_end - max(self.committed, self.log_start))


@dataclass(frozen=True, slots=True)
class PartitionVerdict:
    verdict: Verdict | None
    """None: not evaluated (the group has no committed offset on the partition)."""
    reason: str
    complete: bool
    """The window was full enough to judge (``minimum_complete``)."""


def _n(value: int) -> str:
    return f"{value:,}"


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s"


def _commit_times(samples: Sequence[Sample]) -> list[float]:
    """Per sample, the time of the last commit it shows (see the module docstring)."""
    times: list[float] = []
    for i, s in enumerate(samples):
        seen = i == 0 or s.owned or s.committed != samples[i - 1].committed
        times.append(s.at if seen else times[-1])
    return times


def evaluate(
    samples: Sequence[Sample],
    *,
    allowed_lag: int = 0,
    window: int = 10,
    minimum_complete: float = 1.0,
) -> PartitionVerdict:
    """Judge one partition from its window of samples, oldest first.

    Only samples with a committed offset are entries of the window (Burrow keeps
    only commits).  ``window`` is the number of entries a full window holds; below
    ``minimum_complete`` of it the partition is OK, not evaluated, as in Burrow.
    """
    entries = [s for s in samples if s.committed is not None][-window:]
    if not samples or samples[-1].committed is None:
        return PartitionVerdict(None, "no committed offset: the group has not read it", False)
    last = samples[-1]
    lag = last.lag or 0
    complete = len(entries) >= minimum_complete * window
    if lag <= allowed_lag:
        note = "lag 0" if lag == 0 else f"lag {_n(lag)}, within the allowed {_n(allowed_lag)}"
        return PartitionVerdict(Verdict.OK, note, complete)
    if not complete:
        return PartitionVerdict(
            Verdict.OK,
            f"window incomplete ({len(entries)} of {window} samples): not evaluated yet",
            False,
        )
    offsets = [e.committed or 0 for e in entries]
    lags = [e.lag or 0 for e in entries]
    times = _commit_times(entries)
    now, first_ts, last_ts = last.at, times[0], times[-1]
    last_offset = offsets[-1]
    grew = entries[-1].log_end - entries[0].log_end
    span = f"{len(entries)} samples"

    # 1. STOP: no commit for longer than the window's commits span, not caught up lately.
    recent_zero = any(e.log_end <= last_offset for e in entries)
    if now - last_ts > last_ts - first_ts and not recent_zero:
        return PartitionVerdict(
            Verdict.STOP,
            f"no commit for {_s(now - last_ts)} (longer than the {_s(last_ts - first_ts)} its "
            f"commits span) with lag {_n(lag)}: committed offset {_n(last_offset)} and no live "
            "member owns the partition",
            True,
        )
    # 2. Lag at most the allowed lag at any point of the window: OK (Burrow checks this
    #    before anything below, so a rewind after catching up is not an error).
    if all(x > allowed_lag for x in lags):
        # 3. REWIND: the committed offset went back between two samples.
        for i in range(1, len(offsets)):
            if offsets[i] < offsets[i - 1]:
                return PartitionVerdict(
                    Verdict.REWIND,
                    f"committed offset moved back from {_n(offsets[i - 1])} to "
                    f"{_n(offsets[i])} (sample {i + 1} of {len(entries)}); lag {_n(lag)}",
                    True,
                )
        # 4. STALL: the same committed offset in every sample.
        if all(o == offsets[0] for o in offsets):
            return PartitionVerdict(
                Verdict.STALL,
                f"committed offset {_n(last_offset)} unchanged over {span} while the log grew "
                f"by {_n(grew)}; lag {_n(lag)}",
                True,
            )
        # 5. WARN: the offset moves, but the lag never decreases.
        if all(lags[i] >= lags[i - 1] for i in range(1, len(lags))):
            return PartitionVerdict(
                Verdict.WARN,
                f"committed offset moved {_n(offsets[0])} → {_n(last_offset)} but the lag never "
                f"decreased over {span}: {_n(lags[0])} → {_n(lag)}",
                True,
            )
    if any(x <= allowed_lag for x in lags):
        low = "0" if not allowed_lag else "within the allowed lag"
        reason = f"lag {_n(lag)}; it was {low} in the window"
    else:
        reason = f"lag {_n(lag)}, decreasing at times over {span}: the group keeps up"
    return PartitionVerdict(Verdict.OK, reason, True)


def group_verdict(verdicts: Iterable[Verdict | None]) -> GroupVerdict:
    """The worst partition wins; STOP, STALL and REWIND are ERR at group level."""
    seen = {v for v in verdicts if v is not None}
    if seen & ERRORS:
        return GroupVerdict.ERR
    if Verdict.WARN in seen:
        return GroupVerdict.WARN
    return GroupVerdict.OK


#: How bad a partition verdict is, for sorting (worst first: higher).
SEVERITY: dict[Verdict | None, int] = {
    None: 0,
    Verdict.OK: 1,
    Verdict.WARN: 2,
    Verdict.REWIND: 3,
    Verdict.STALL: 4,
    Verdict.STOP: 5,
}
GROUP_SEVERITY: dict[GroupVerdict, int] = {
    GroupVerdict.OK: 1,
    GroupVerdict.WARN: 2,
    GroupVerdict.ERR: 3,
    GroupVerdict.NOTFOUND: 0,
}


@dataclass(frozen=True, slots=True)
class Rates:
    """What moved over the window, per second, and when the lag drains."""

    commit_rate: float | None
    """Commits seen (changes of the committed offset) per second."""
    consume_rate: float | None
    """Records per second the committed offset advanced."""
    produce_rate: float | None
    """Records per second the log end advanced."""
    eta: float | None
    """Seconds until the lag is 0 at the current rates; None: never or unknown."""
    eta_text: str


def rates(samples: Sequence[Sample]) -> Rates:
    """Rates from the first to the last sample with a committed offset."""
    entries = [s for s in samples if s.committed is not None]
    lag = entries[-1].lag if entries else None
    eta: float | None = 0.0 if lag == 0 else None
    if len(entries) < 2 or entries[-1].at <= entries[0].at:
        text = "0 s" if eta == 0.0 else "unknown"
        return Rates(None, None, None, eta, text)
    first, last = entries[0], entries[-1]
    dt = last.at - first.at
    changes = sum(1 for a, b in itertools.pairwise(entries) if a.committed != b.committed)
    consume = ((last.committed or 0) - (first.committed or 0)) / dt
    produce = (last.log_end - first.log_end) / dt
    if lag is None or lag == 0:
        return Rates(changes / dt, consume, produce, eta, "0 s" if lag == 0 else "unknown")
    net = consume - produce
    if net <= 0:
        return Rates(changes / dt, consume, produce, None, "never")
    eta = lag / net
    return Rates(changes / dt, consume, produce, eta, format_seconds(eta))


def format_seconds(seconds: float) -> str:
    """``0.4 s``, ``42 s``, ``3m05s``, ``2h10m``, ``3d04h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"
