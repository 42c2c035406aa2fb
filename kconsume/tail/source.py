"""What the dashboard reads and controls: the :class:`DashboardSource` protocol.

Two implementations: :class:`~kconsume.tail.session.TailSession` over a running
engine, and :class:`~kconsume.tail.fake.ScriptedSource`, a deterministic stand-in for
tests and screenshots.  The dashboard polls ``snapshot()`` and ``status`` on a timer
and receives discrete events through ``subscribe``; it never touches the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from ..engine.events import EngineEvent
from ..engine.snapshot import EngineSnapshot
from ..engine.types import Message
from .buffer import TailBuffer

__all__ = ["DashboardSource", "Notice", "SourceState", "SourceStatus", "holders"]


class SourceState(StrEnum):
    STARTING = "starting"
    CONSUMING = "consuming"
    REBALANCING = "rebalancing"
    UNREACHABLE = "broker unreachable"
    PAUSED = "paused"
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


class DashboardSource(Protocol):
    """The dashboard's view of a consumer: state to poll, events to hear, controls."""

    broker: str
    """Where it consumes from, as shown to the user."""
    topics: tuple[str, ...]
    group: str | None
    buffer: TailBuffer
    """The newest messages of the tail, behind the filter."""

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
        """Stop consuming: finish what streams are on, commit, leave the group."""


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
