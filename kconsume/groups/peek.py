"""``peek``: the records just before and after a group's committed offset.

The committed offset is the next offset the group will read, so the record there
is marked ``next``; ``before`` records are already done, ``after`` records come
after the next one.  Reading goes through a reader with no group: peeking never
joins the group, commits, or moves anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ..engine.transport.base import RecordLike
from ..engine.types import TP, Event, Message
from ..records.decoding import output_codec
from ..records.output import Formatter, make_formatter
from ..schemas import SchemaSettings
from .session import GroupSession

__all__ = ["MARKS", "Mark", "PeekWriter", "PeekedPartition", "peek", "select"]

Mark = Literal["before", "next", "after"]
MARKS: tuple[Mark, ...] = ("before", "next", "after")


@dataclass(frozen=True, slots=True)
class PeekedPartition:
    tp: TP
    committed: int
    log_start: int
    log_end: int
    records: list[tuple[Mark, RecordLike]] = field(default_factory=list)

    @property
    def caught_up(self) -> bool:
        """The group has read everything: no record at or after its committed offset."""
        return not any(mark != "before" for mark, _ in self.records)

    def note(self) -> str | None:
        """Why the window looks odd, if it does."""
        c, start, end = self.committed, self.log_start, self.log_end
        if c < start:
            return (
                f"committed offset {c} is before the log start {start} (records deleted): the "
                "group's consumers will start where their auto.offset.reset says"
            )
        if c > end:
            return f"committed offset {c} is past the log end {end}"
        if c == end:
            return f"committed offset {c} is the log end: the group has read everything"
        return None


def select(
    records: list[RecordLike], committed: int, before: int, after: int
) -> list[tuple[Mark, RecordLike]]:
    """Mark records (in offset order) around ``committed`` and keep the window.

    The first record at or after ``committed`` is ``next`` (normally the one at
    ``committed``; after compaction the next one that exists); up to ``before``
    records before it, and ``after`` records after it.
    """
    earlier = [r for r in records if r.offset < committed]
    later = [r for r in records if r.offset >= committed]
    out: list[tuple[Mark, RecordLike]] = [
        ("before", r) for r in (earlier[-before:] if before else [])
    ]
    if later:
        out.append(("next", later[0]))
        out.extend(("after", r) for r in later[1 : after + 1])
    return out


async def peek(
    session: GroupSession, before: int, after: int
) -> tuple[list[PeekedPartition], list[TP]]:
    """The window around the committed offset of each partition, and the partitions
    the group has no committed offset for."""
    committed = await session.committed()
    missing = [tp for tp in session.tps if committed[tp] is None]
    known = {tp: c for tp, c in committed.items() if c is not None}
    if not known:
        return [], missing
    bounds = await session.bounds()

    def enough(tp: TP, got: Any) -> bool:
        return sum(1 for r in got if r.offset >= known[tp]) > after

    # Offsets before the committed one may hold no records (transaction markers,
    # aborted or compacted records): look further back until ``before`` records are
    # found or the log starts.
    records: dict[TP, list[RecordLike]] = {}
    lookback = dict.fromkeys(known, before)
    todo = dict(known)
    while todo:
        ranges = {}
        for tp, c in todo.items():
            start, end = bounds[tp]
            ranges[tp] = (min(max(start, c - lookback[tp]), end), end)
        got = await session.read(ranges, stop=enough)
        records.update(got)
        short = {}
        for tp, c in todo.items():
            earlier = sum(1 for r in got[tp] if r.offset < c)
            if earlier < before and ranges[tp][0] > bounds[tp][0]:
                lookback[tp] = lookback[tp] * 4 + 16
                short[tp] = c
        todo = short
    peeked = [
        PeekedPartition(tp, c, *bounds[tp], records=select(records[tp], c, before, after))
        for tp, c in sorted(known.items())
    ]
    return peeked, missing


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


class PeekWriter:
    """Peeked records in ``consume``'s formats, with the committed offset marked.

    * ``jsonl``: each object gets ``"peek": "before" | "next" | "after"``;
    * ``pretty``: a line per partition, and a marker line before the next record;
    * a template may use ``{peek}``;
    * ``raw``: the values alone, unmarked.
    """

    def __init__(
        self,
        group: str,
        output_format: str,
        *,
        color: bool = False,
        key_format: str = "auto",
        value_format: str = "auto",
        schemas: SchemaSettings | None = None,
    ) -> None:
        """Raises ValueError (or MissingExtraError) for formats that cannot be used."""
        self.group = group
        self.output_format = output_format
        self.color = color
        self.key_codec = output_codec(key_format, schemas, key=True)
        self.value_codec = output_codec(value_format, schemas)
        if "{" in output_format:
            self.formatters: dict[Mark, Formatter] = {
                mark: make_formatter(output_format.replace("{peek}", mark)) for mark in MARKS
            }
        else:
            formatter = make_formatter(output_format, color=color)
            self.formatters = dict.fromkeys(MARKS, formatter)

    @property
    def pretty(self) -> bool:
        return self.output_format == "pretty"

    def event(self, tp: TP, record: RecordLike) -> Event:
        message = Message(
            tp,
            record.offset,
            record.timestamp,
            record.key,
            record.value,
            tuple(record.headers or ()),
        )
        return Event(
            message, self.key_codec.decode(record.key), self.value_codec.decode(record.value)
        )

    def line(self, mark: Mark, tp: TP, record: RecordLike) -> bytes:
        event = self.event(tp, record)
        out = self.formatters[mark](event, event.value)
        if self.output_format == "jsonl":
            doc = orjson.loads(out)
            doc["peek"] = mark
            out = orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)
        return out

    def partition(self, peeked: PeekedPartition) -> bytes:
        """Everything written to stdout for one partition."""
        lines: list[bytes] = []
        if self.pretty:
            head = (
                f"── {peeked.tp}  group {self.group}  committed {peeked.committed}  "
                f"log {peeked.log_start}..{peeked.log_end} ──"
            )
            lines.append((_paint(head, "1", self.color) + "\n").encode())
        marked_next = False
        for mark, record in peeked.records:
            if mark == "next" and self.pretty:
                text = f"▶ next for {self.group} (committed offset {peeked.committed})"
                lines.append((_paint(text, "1;32", self.color) + "\n").encode())
                marked_next = True
            lines.append(self.line(mark, peeked.tp, record))
        if self.pretty and not marked_next:
            text = (
                f"▶ committed offset {peeked.committed}: nothing to read yet "
                f"(log end {peeked.log_end})"
            )
            lines.append((_paint(text, "1;32", self.color) + "\n").encode())
        return b"".join(lines)
