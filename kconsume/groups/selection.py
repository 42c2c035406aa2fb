"""What ``peek`` and ``commit`` act on: ``TOPIC[:PARTITION]`` and ``--to`` targets.

Both parse without a broker and raise ``ValueError`` with a message meant for
people, so the command line can turn them into usage errors (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..engine.positions import StartAt, parse_number, parse_time_ms

#: Partition numbers are int32 on the wire.
MAX_PARTITION = 2**31 - 1

__all__ = ["CommitTo", "Selection"]


@dataclass(frozen=True, slots=True)
class Selection:
    """A topic and, optionally, some of its partitions (None: all of them)."""

    topic: str
    partitions: tuple[int, ...] | None = None

    @classmethod
    def parse(cls, spec: str) -> Selection:
        """``orders``, ``orders:2`` or ``orders:0,2`` (Kafka topic names never hold ':')."""
        topic, sep, rest = spec.strip().partition(":")
        if not topic:
            raise ValueError(f"bad TOPIC[:PARTITION] {spec!r}: the topic is missing")
        if not sep:
            return cls(topic)
        parts = [p.strip() for p in rest.split(",")]
        if not all(re.fullmatch(r"[0-9]+", p) for p in parts):
            example = topic if topic.isprintable() else "TOPIC"  # the message stays one line
            raise ValueError(
                f"bad TOPIC[:PARTITION] {spec!r}: partitions are numbers, as in {example}:0 or "
                f"{example}:0,2"
            )
        numbers = {parse_number(p, "partition", MAX_PARTITION) for p in parts}
        return cls(topic, tuple(sorted(numbers)))

    def __str__(self) -> str:
        if self.partitions is None:
            return self.topic
        return f"{self.topic}:{','.join(map(str, self.partitions))}"


CommitKind = Literal["beginning", "end", "offset", "shift", "time"]


@dataclass(frozen=True, slots=True)
class CommitTo:
    """Where ``commit --to`` moves each partition.

    ``offset`` (N), ``shift`` (+N/-N from the committed offset), ``beginning``,
    ``end`` and ``time`` (the first record at or after ``@TIME``, epoch ms).
    """

    kind: CommitKind
    value: int = 0

    @classmethod
    def parse(cls, spec: str) -> CommitTo:
        text = spec.strip()
        if re.fullmatch(r"[+-][0-9]+", text):
            shift = parse_number(text[1:], "shift")
            return cls("shift", -shift if text[0] == "-" else shift)
        if re.fullmatch(r"[0-9]+", text):
            return cls("offset", parse_number(text, "offset"))
        if text.startswith("@"):
            return cls("time", parse_time_ms(text[1:]))  # its ValueError says what is wrong
        try:
            start = StartAt.parse(text)
        except ValueError:
            start = None
        if start is not None and start.kind in ("beginning", "end"):
            return cls(start.kind)
        raise ValueError(
            f"bad --to {spec!r}: use N (an offset), +N or -N (a shift from the committed "
            "offset), beginning, end or @TIME (ISO 8601 or epoch ms)"
        )

    def __str__(self) -> str:
        if self.kind == "offset":
            return str(self.value)
        if self.kind == "shift":
            return f"{self.value:+d}"
        if self.kind == "time":
            return f"@{self.value}"
        return self.kind
