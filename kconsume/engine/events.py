"""Typed engine events and the in-process bus that carries them.

Events are discrete changes (assignment, commits, warnings); per-message state is
never published here but sampled through snapshots.  Publishing with nobody
subscribed costs one attribute check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .types import TP

__all__ = [
    "CommitCompleted",
    "CommitFailed",
    "CommitStarted",
    "DecodeError",
    "EngineEvent",
    "EventBus",
    "LivelockCleared",
    "LivelockWarning",
    "PartitionsAssigned",
    "PartitionsRevoked",
    "RebalanceStarted",
    "RevokeDrainTimeout",
]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True, kw_only=True)
class EngineEvent:
    """Base of every event.  ``at`` is wall-clock seconds since the epoch."""

    at: float = field(default_factory=time.time)

    @property
    def summary(self) -> str:
        return type(self).__name__


@dataclass(slots=True, frozen=True, kw_only=True)
class RebalanceStarted(EngineEvent):
    """The group started a rebalance; partitions may be revoked next."""

    @property
    def summary(self) -> str:
        return "rebalance started"


@dataclass(slots=True, frozen=True, kw_only=True)
class PartitionsAssigned(EngineEvent):
    tps: frozenset[TP]
    generation: int | None = None

    @property
    def summary(self) -> str:
        return f"assigned {_tps(self.tps)} (generation {self.generation})"


@dataclass(slots=True, frozen=True, kw_only=True)
class PartitionsRevoked(EngineEvent):
    tps: frozenset[TP]

    @property
    def summary(self) -> str:
        return f"revoked {_tps(self.tps)}"


@dataclass(slots=True, frozen=True, kw_only=True)
class RevokeDrainTimeout(EngineEvent):
    """A revoke waited ``timeout`` seconds and these offsets were still held."""

    held: dict[TP, tuple[int, ...]]
    timeout: float

    @property
    def summary(self) -> str:
        held = ", ".join(f"{tp}@{list(offsets)}" for tp, offsets in self.held.items())
        return f"revoke drain timed out after {self.timeout:g}s, still held: {held}"


@dataclass(slots=True, frozen=True, kw_only=True)
class CommitStarted(EngineEvent):
    offsets: dict[TP, int]

    @property
    def summary(self) -> str:
        return f"commit started {_offsets(self.offsets)}"


@dataclass(slots=True, frozen=True, kw_only=True)
class CommitCompleted(EngineEvent):
    offsets: dict[TP, int]
    duration: float

    @property
    def summary(self) -> str:
        return f"committed {_offsets(self.offsets)} in {self.duration * 1000:.1f} ms"


@dataclass(slots=True, frozen=True, kw_only=True)
class CommitFailed(EngineEvent):
    offsets: dict[TP, int]
    error: str

    @property
    def summary(self) -> str:
        return f"commit of {_offsets(self.offsets)} failed: {self.error}"


@dataclass(slots=True, frozen=True, kw_only=True)
class LivelockWarning(EngineEvent):
    """A partition's committed offset has not moved for ``stalled_for`` seconds."""

    tp: TP
    committed: int | None
    blocking_offset: int | None
    """The oldest in-flight offset: the message holding the commit back."""
    stalled_for: float

    @property
    def summary(self) -> str:
        return (
            f"commit of {self.tp} has not advanced for {self.stalled_for:.1f}s: "
            f"committed={self.committed}, blocked by offset {self.blocking_offset}"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class LivelockCleared(EngineEvent):
    tp: TP
    committed: int | None

    @property
    def summary(self) -> str:
        return f"commit of {self.tp} moves again: committed={self.committed}"


@dataclass(slots=True, frozen=True, kw_only=True)
class DecodeError(EngineEvent):
    """A payload a stream's codec could not decode; the message is skipped for those streams."""

    tp: TP
    offset: int
    streams: tuple[str, ...]
    error: str

    @property
    def summary(self) -> str:
        return f"cannot decode {self.tp}@{self.offset} for {', '.join(self.streams)}: {self.error}"


Subscriber = Callable[[EngineEvent], None]


class EventBus:
    """Fan-out of engine events to in-process subscribers.

    Subscribers are plain callables run synchronously; one that raises is logged
    and kept, so an observer cannot break the engine.
    """

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def publish(self, event: EngineEvent) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %r", subscriber, event)


def _tps(tps: frozenset[TP]) -> str:
    return ", ".join(str(tp) for tp in sorted(tps)) or "nothing"


def _offsets(offsets: dict[TP, int]) -> str:
    return ", ".join(f"{tp}→{offset}" for tp, offset in sorted(offsets.items()))
