"""Rates from counters sampled now and then (the dashboard samples at most 10 times a second)."""

from __future__ import annotations

from collections import deque

__all__ = ["RateMeter"]


class RateMeter:
    """Per-second rate of a growing counter, over a sliding ``window`` of samples.

    ``history`` keeps one rate every ``every`` seconds (for a sparkline).  Times are
    whatever clock the samples come from (the engine snapshot's monotonic ``at``).
    """

    def __init__(self, window: float = 2.0, every: float = 1.0, history: int = 60) -> None:
        self.window = window
        self.every = every
        self._samples: deque[tuple[float, int]] = deque()
        self.history: deque[float] = deque(maxlen=history)
        self._last_point: float | None = None
        self.rate = 0.0

    def add(self, at: float, total: int) -> float:
        """Record ``total`` at time ``at``; returns the rate over the window."""
        samples = self._samples
        if samples and total < samples[-1][1]:  # the counter restarted (a new engine)
            samples.clear()
        samples.append((at, total))
        while len(samples) > 2 and at - samples[1][0] >= self.window:
            samples.popleft()
        first_at, first_total = samples[0]
        elapsed = at - first_at
        self.rate = (total - first_total) / elapsed if elapsed > 0 else 0.0
        if self._last_point is None:
            self._last_point = at
        elif at - self._last_point >= self.every:
            self._last_point = at
            self.history.append(self.rate)
        return self.rate
