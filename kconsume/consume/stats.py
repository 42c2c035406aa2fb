"""Counters of a ``consume`` run and their summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Stats"]


@dataclass(slots=True)
class Stats:
    scanned: int = 0
    """Messages read from the stream (after prefilters)."""
    prefiltered: int = 0
    """Messages --header/--grep skipped before decoding."""
    matched: int = 0
    filter_errors: int = 0
    decode_errors: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.scanned + self.prefiltered) / elapsed if elapsed > 0 else 0.0

    def progress_line(self) -> str:
        total = self.scanned + self.prefiltered
        return f"scanned {total}, matched {self.matched} ({self.rate:,.0f} msg/s)"

    def summary(self) -> str:
        return (
            f"kconsume: scanned {self.scanned + self.prefiltered} "
            f"(prefiltered {self.prefiltered}), matched {self.matched}, "
            f"filter errors {self.filter_errors}, decode errors {self.decode_errors}, "
            f"{self.rate:,.0f} msg/s"
        )
