"""Where a partition starts when the group has no committed offset for it.

``StartAt`` is the engine's generalisation of Kafka's ``auto.offset.reset``, with
kcat's vocabulary: ``beginning``, ``end``, ``stored``, ``N`` (an absolute offset),
``-N`` (N before the end) and ``@TIME`` (the first record at or after a time, as
ISO 8601 or epoch milliseconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["MAX_OFFSET", "StartAt", "parse_number", "parse_time_ms"]

#: Offsets and timestamps are int64 on the wire: nothing larger can be asked for.
MAX_OFFSET = 2**63 - 1

StartKind = Literal["beginning", "end", "stored", "offset", "from_end", "time"]

_ALIASES: dict[str, StartKind] = {
    "beginning": "beginning",
    "earliest": "beginning",
    "oldest": "beginning",
    "end": "end",
    "latest": "end",
    "newest": "end",
    "stored": "stored",
}


def parse_number(text: str, what: str, limit: int = MAX_OFFSET) -> int:
    """``text`` (ASCII digits) as an int no larger than ``limit``; ValueError if it is larger."""
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise ValueError(f"{what} {text} is too large (at most {limit})")
    return int(digits)


def parse_time_ms(text: str) -> int:
    """Epoch milliseconds from ``1700000000000`` or an ISO 8601 time (naive means local).

    A time before 1970 is 0: the first record at or after it is the first record
    (a negative time would mean something else to the broker: -1 is "latest").
    Raises ValueError with a message meant for people.
    """
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return parse_number(text, "time")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.astimezone()  # local time, as a person typing it means
        millis = int(moment.timestamp() * 1000)
    except (ValueError, OverflowError, OSError):  # not a time, or no time this platform has
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-27T14:00:00Z) or epoch milliseconds"
        ) from None
    return max(0, millis)


@dataclass(frozen=True, slots=True)
class StartAt:
    """A start position: ``kind`` and, for offset/from_end/time, a number."""

    kind: StartKind
    value: int = 0

    @classmethod
    def parse(cls, spec: str) -> StartAt:
        """Parse ``beginning|end|stored|N|-N|@TIME``; ValueError says what is wrong."""
        text = spec.strip()
        if text.lower() in _ALIASES:
            return cls(_ALIASES[text.lower()])
        if text.startswith("@"):
            return cls("time", parse_time_ms(text[1:]))
        if re.fullmatch(r"-[0-9]+", text):
            return cls("from_end", parse_number(text[1:], "offset"))
        if re.fullmatch(r"[0-9]+", text):
            return cls("offset", parse_number(text, "offset"))
        raise ValueError(
            f"bad offset {spec!r}: use beginning, end, stored, N, -N (N before the end) or @TIME"
        )

    def offset_between(self, low: int, high: int, at_time: int | None = None) -> int:
        """The offset this position means in a log ``[low, high)``; ``at_time`` is the
        broker's answer to the time lookup (kind ``time``; None: nothing at or after it).

        Callers: the transports' ``start_offsets``.  An offset outside the log is
        clamped to it; ``end`` (and ``stored`` without a committed offset) is ``high``.
        """
        if self.kind == "offset":
            return min(max(self.value, low), high)
        if self.kind == "from_end":
            return max(low, high - self.value)
        if self.kind == "time":
            return high if at_time is None else at_time
        if self.kind == "beginning":
            return low
        return high

    def __str__(self) -> str:
        if self.kind == "offset":
            return str(self.value)
        if self.kind == "from_end":
            return f"-{self.value}"
        if self.kind == "time":
            return f"@{self.value}"
        return self.kind
