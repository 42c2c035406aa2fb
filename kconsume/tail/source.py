"""What the dashboard reads and controls: the :class:`DashboardSource` protocol.

Two implementations: :class:`~kconsume.tail.session.TailSession` over a running
engine, and ``ScriptedSource`` (tests/tui/scripted_source.py), a deterministic stand-in for
tests and screenshots.  The dashboard polls ``snapshot()`` and ``status`` on a timer
and receives discrete events through ``subscribe``; it never touches the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from ..engine.events import EngineEvent, compact_tps
from ..engine.snapshot import EngineSnapshot
from ..engine.types import TP, Event, Message
from .buffer import TailBuffer

__all__ = [
    "BlockingRecord",
    "DashboardSource",
    "Notice",
    "SourceState",
    "SourceStatus",
    "backpressure",
    "blocked_longest",
    "holders",
]


class SourceState(StrEnum):
    STARTING = "starting"
    CONSUMING = "consuming"
    REBALANCING = "rebalancing"
    UNREACHABLE = "broker unreachable"
    PAUSED = "paused"
    BACKPRESSURE = "back-pressure"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    state: SourceState
    detail: str = ""


Level = Literal["info", "success", "warning", "error"]


@dataclass(slots=True, frozen=True, kw_only=True)
class Notice(EngineEvent):
    """Something the tail session (not the engine) has to say: a user action's result,
    a filter error, a lost broker, a log record."""

    text: str
    level: Level = "info"

    @property
    def summary(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class BlockingRecord:
    """The in-flight message that holds a blocked partition's commit back."""

    event: Event
    """The message, raw (``buffer.decode`` decodes it)."""
    inflight_for: float | None
    """Seconds since it was delivered."""
    blocked_for: float | None
    """Seconds the partition's commit has not moved."""
    holders: tuple[str, ...]
    """Names of the streams that still hold it."""

    @property
    def tp(self) -> TP:
        return self.event.message.tp

    @property
    def offset(self) -> int:
        return self.event.message.offset


def backpressure(snapshot: EngineSnapshot | None) -> str | None:
    """Why partitions are paused by a full stream buffer, for the status line (None: none).

    Short, so that the status line's other values still fit: each stream whose buffer is
    full, its buffer and the partitions it paused (the ``back-pressure`` event says what
    the stream is on, and until when).  A pause the user asked for (``p``) is not
    back-pressure.
    """
    if snapshot is None:
        return None
    reasons = []
    for s in snapshot.streams:
        if s.paused:
            tps = [p.tp for p in snapshot.partitions if s.name in p.paused_by]
            reasons.append(
                f"{s.name} full ({s.buffer_depth:,}/{s.buffer_maxsize:,}): "
                f"{compact_tps(tps) or 'its partitions'} paused"
            )
    return "; ".join(reasons) or None


def blocked_longest(snapshot: EngineSnapshot | None) -> tuple[TP, int] | None:
    """(partition, blocking offset) of the partition blocked longest (the engine warned
    that its commit does not move), or None when none is.

    A blocking message some stream is on comes first: the others are usually only
    queued behind it in the same stream.
    """
    if snapshot is None:
        return None
    blocked = [
        p for p in snapshot.partitions if p.livelock_warned and p.oldest_inflight is not None
    ]
    if not blocked:
        return None
    being_processed = {(s.current, s.current_offset) for s in snapshot.streams}
    p = max(
        blocked,
        key=lambda p: ((p.tp, p.oldest_inflight) in being_processed, p.stalled_for or 0.0),
    )
    assert p.oldest_inflight is not None
    return p.tp, p.oldest_inflight


class DashboardSource(Protocol):
    """The dashboard's view of a consumer: state to poll, events to hear, controls."""

    broker: str
    """Where it consumes from, as shown to the user."""
    topics: tuple[str, ...]
    group: str | None
    buffer: TailBuffer
    """The newest messages of the tail, behind the filter."""
    can_skip: bool
    """Whether :meth:`skip` may be used (``kconsume run`` only)."""

    @property
    def status(self) -> SourceStatus: ...

    @property
    def paused(self) -> bool: ...

    def snapshot(self) -> EngineSnapshot | None:
        """The engine's state now (None before the engine has started)."""

    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Receive engine events and notices; returns the function that unsubscribes."""

    def set_paused(self, paused: bool) -> None:
        """Pause (or resume) fetching every assigned partition."""

    def set_filter(self, expression: str | None) -> None:
        """Filter the tail (``--where`` language); raises ``FilterSyntaxError``."""

    async def commit_now(self) -> str:
        """Commit what is committable now; returns what happened, for people."""

    async def stop(self) -> None:
        """Stop consuming: finish what streams are on, commit, leave the group.

        Called again while stopping, it stops at once: what is still being processed
        stays uncommitted.
        """

    def blocking_record(self) -> BlockingRecord | None:
        """The message blocking the commit of the partition blocked longest (None: none)."""

    def skip(self, tp: TP, offset: int) -> bool:
        """Ack the in-flight message without processing it; False if it is not in flight."""


def holders(snapshot: EngineSnapshot | None, message: Message) -> tuple[str, ...]:
    """Names of the streams that still hold ``message`` (buffered or being processed).

    A stream holds every offset of a partition from the oldest one it holds on, since
    its buffer is in offset order per partition; a message nobody references (refcount
    0) is held by nobody.
    """
    if snapshot is None or message.refcount <= 0 or message.acked:
        return ()
    tp, offset = message.tp, message.offset
    names = []
    for stream in snapshot.streams:
        oldest = stream.held_offsets.get(tp)
        if oldest is not None and oldest <= offset:
            names.append(stream.name)
    return tuple(names)
