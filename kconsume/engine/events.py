"""Typed engine events and the in-process bus that carries them.

Events are discrete changes (assignment, commits, warnings); per-message state is
never published here but sampled through snapshots.  Publishing with nobody
subscribed costs one attribute check.

Every event type is declared alike (a frozen, slotted, keyword-only dataclass and its
one-line ``summary``): that shape repeats because each is a distinct type a subscriber
matches on, not because logic is written twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .types import TP

__all__ = [
    "BackPressureWarning",
    "CommitCompleted",
    "CommitFailed",
    "CommitFailingWarning",
    "CommitStarted",
    "DecodeError",
    "EngineEvent",
    "EventBus",
    "FetchStalledWarning",
    "HandlerTimedOut",
    "LivelockCleared",
    "LivelockWarning",
    "LoopBlockedWarning",
    "MessageSkipped",
    "PartitionsAssigned",
    "PartitionsRevoked",
    "RebalanceStarted",
    "RevokeDrainTimeout",
    "StopLeftUncommitted",
    "StopStarted",
    "StreamStalledWarning",
    "WatchdogCleared",
    "WatchdogWarning",
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
class _WatchdogNews(EngineEvent):
    """What a watchdog warning and its clearing share: a cause and a subject."""

    cause: str = ""
    subject: str = ""

    def __post_init__(self) -> None:
        if not self.subject:
            object.__setattr__(self, "subject", self._default_subject())

    def _default_subject(self) -> str:
        """The partition the event is about, if it has one (``subject`` not given)."""
        return str(getattr(self, "tp", ""))


@dataclass(slots=True, frozen=True, kw_only=True)
class WatchdogWarning(_WatchdogNews):
    """Something keeps a partition's commit, a stream or the loop from moving.

    ``cause`` says what (``head-of-line``, ``stream-not-started``, ``stream-slow``,
    ``loop-blocked``, ``fetch-stalled``, ``commit-failing``, ``rebalance-drain-stuck``);
    ``subject`` says where (a partition like ``orders[3]``, ``stream billing``, ``loop``).
    A ``WatchdogCleared`` with the same cause and subject follows when it recovers.
    """

    @property
    def summary(self) -> str:
        return f"{self.cause} on {self.subject}"


@dataclass(slots=True, frozen=True, kw_only=True)
class WatchdogCleared(_WatchdogNews):
    @property
    def summary(self) -> str:
        return f"cleared: {self.cause} on {self.subject}"


@dataclass(slots=True, frozen=True, kw_only=True)
class LivelockWarning(WatchdogWarning):
    """Head of line: a partition's commit has not moved for ``stalled_for`` seconds.

    ``blocking_offset`` is the oldest in-flight message, the one holding the commit;
    ``streams`` still hold it, ``age`` is how long since it was delivered.
    """

    tp: TP
    committed: int | None
    blocking_offset: int | None
    stalled_for: float
    age: float | None = None
    streams: tuple[str, ...] = ()
    key_preview: str | None = None
    queued_behind: tuple[str, ...] = ()
    """For streams that have it buffered, not started: what they are on instead."""
    cause: str = "head-of-line"
    subject: str = ""

    @property
    def summary(self) -> str:
        if self.blocking_offset is None:
            return (
                f"commit of {self.tp} has not advanced for {self.stalled_for:.1f}s "
                f"(committed={self.committed})"
            )
        held = f"held by {', '.join(self.streams)}" if self.streams else "held by no stream"
        age = f" for {self.age:.1f}s" if self.age is not None else ""
        key = f", key {self.key_preview}" if self.key_preview is not None else ""
        behind = f"; queued behind {', '.join(self.queued_behind)}" if self.queued_behind else ""
        return (
            f"head-of-line: offset {self.blocking_offset} blocks the commit of {self.tp} "
            f"({held}{age}{key}{behind}; committed={self.committed}, "
            f"not advanced for {self.stalled_for:.1f}s)"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class LivelockCleared(WatchdogCleared):
    tp: TP
    committed: int | None
    cause: str = "head-of-line"
    subject: str = ""

    @property
    def summary(self) -> str:
        return f"cleared: commit of {self.tp} moves again (committed={self.committed})"


@dataclass(slots=True, frozen=True, kw_only=True)
class StreamStalledWarning(WatchdogWarning):
    """Messages wait in a stream's buffer and it has taken none for ``stalled_for`` seconds."""

    stream: str
    waiting: int
    stalled_for: float
    current: TP | None = None
    current_offset: int | None = None
    current_for: float | None = None
    subject: str = ""

    def _default_subject(self) -> str:
        return f"stream {self.stream}"

    @property
    def summary(self) -> str:
        if self.cause == "stream-not-started":
            return (
                f"stream {self.stream} not started: {self.waiting} messages wait and nothing "
                f"has read the stream for {self.stalled_for:.1f}s (is its agent running?)"
            )
        on = (
            f"on {self.current}@{self.current_offset} for {self.current_for:.1f}s"
            if self.current is not None and self.current_for is not None
            else "not reading"
        )
        return (
            f"stream {self.stream} slow: {on}, {self.waiting} messages waiting, "
            f"none taken for {self.stalled_for:.1f}s"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class BackPressureWarning(WatchdogWarning):
    """A stream's buffer is full, so it paused the fetching of its partitions.

    ``tps`` are the partitions it paused (every stream reading them waits too); they are
    fetched again once it has drained to half of ``maxsize``.  ``current`` is what the
    stream is on, usually the reason it is slow.
    """

    stream: str
    tps: tuple[TP, ...]
    buffered: int
    maxsize: int
    current: TP | None = None
    current_offset: int | None = None
    current_for: float | None = None
    cause: str = "back-pressure"
    subject: str = ""

    def _default_subject(self) -> str:
        return f"stream {self.stream}"

    @property
    def summary(self) -> str:
        on = (
            f"; {self.stream} on {self.current}@{self.current_offset} for {self.current_for:.1f}s"
            if self.current is not None and self.current_for is not None
            else ""
        )
        return (
            f"back-pressure: {self.stream}'s buffer is full ({self.buffered:,}/{self.maxsize:,}): "
            f"{compact_tps(self.tps) or 'no partition'} paused until it drains to "
            f"{self.maxsize // 2:,}{on}"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class LoopBlockedWarning(WatchdogWarning):
    """The watchdog's timer woke up ``drift`` seconds late: the event loop was blocked."""

    drift: float
    interval: float
    suspended: bool = False
    """The whole process stood still (SIGSTOP, a paused container or VM), not only the loop."""
    culprit: str | None = None
    """Who ran that long, as sampled meanwhile: ``agent billing on orders[2]@1180, task
    kconsume-agent-billing (bill) at app.py:14 in bill`` (None: not seen)."""
    cause: str = "loop-blocked"
    subject: str = "loop"

    @property
    def summary(self) -> str:
        if self.suspended:
            return (
                f"process suspended for {self.drift:.1f}s: no code ran (SIGSTOP, a paused "
                "container or VM, a machine asleep), so heartbeats stopped and the group may "
                "have given this member's partitions to another; its next commits fail and it "
                "rejoins"
            )
        who = (
            f"{self.culprit[:1].upper()}{self.culprit[1:]} ran that long without awaiting"
            if self.culprit
            else "Code on the loop ran that long without awaiting"
        )
        return (
            f"event loop blocked: a {self.interval:g}s timer woke up {self.drift:.1f}s late. "
            f"{who} (time.sleep, CPU-bound work, blocking I/O), so fetching, heartbeats and "
            "commits all waited"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class FetchStalledWarning(WatchdogWarning):
    """The highwater is past the position and nothing has arrived for ``stalled_for`` s."""

    tp: TP
    position: int | None
    highwater: int
    stalled_for: float
    cause: str = "fetch-stalled"
    subject: str = ""

    @property
    def summary(self) -> str:
        return (
            f"fetch stalled on {self.tp}: highwater {self.highwater} is past position "
            f"{self.position} and nothing arrived for {self.stalled_for:.1f}s "
            "(broker unreachable, or the partition's leader is away)"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class CommitFailingWarning(WatchdogWarning):
    """The last ``failures`` commits of a partition failed."""

    tp: TP
    failures: int
    error: str
    cause: str = "commit-failing"
    subject: str = ""

    @property
    def summary(self) -> str:
        return f"commits of {self.tp} failing: {self.failures} in a row, last: {self.error}"


@dataclass(slots=True, frozen=True, kw_only=True)
class RevokeDrainTimeout(WatchdogWarning):
    """A revoke waited ``timeout`` seconds and these offsets were still held."""

    held: dict[TP, tuple[int, ...]]
    timeout: float
    cause: str = "rebalance-drain-stuck"
    subject: str = "rebalance"

    @property
    def summary(self) -> str:
        held = ", ".join(f"{tp}@{list(offsets)}" for tp, offsets in self.held.items())
        return (
            f"rebalance drain stuck: waited {self.timeout:g}s for {held}; "
            "they stay uncommitted and go to the next owner"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class MessageSkipped(EngineEvent):
    """Someone chose to skip a message: acked without being processed.

    ``cancelled``: the agents whose loop body was on it; their iteration is cancelled
    and they go on with the next message.  ``still_running``: streams whose reader is
    on it but is no agent of the App (a task of the user's own), which kconsume cannot
    cancel: they stay on it, and stuck, until their code returns.  ``batched``: agents on
    a ``take()`` batch that holds it, not cancelled, since that would leave the batch's
    other records unprocessed (an agent ``timeout`` cancels whole batches).
    """

    tp: TP
    offset: int
    streams: tuple[str, ...]
    cancelled: tuple[str, ...] = ()
    still_running: tuple[str, ...] = ()
    batched: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        held = f" (held by {', '.join(self.streams)})" if self.streams else ""
        text = f"skipped {self.tp}@{self.offset}{held}: acked without processing"
        if self.cancelled:
            text += (
                f"; cancelled the handler of {', '.join(self.cancelled)} on it, "
                "which goes on with the next message"
            )
        if self.still_running:
            names = ", ".join(self.still_running)
            text += (
                f"; {names} still runs on it and stays stuck until its code returns "
                "(not an agent of the app, so kconsume cannot cancel it)"
            )
        if self.batched:
            names = ", ".join(self.batched)
            text += (
                f"; {names} still runs on a take() batch with it and stays stuck until its "
                "code returns (cancelling it would leave the batch's other records "
                "unprocessed)"
            )
        return text


@dataclass(slots=True, frozen=True, kw_only=True)
class HandlerTimedOut(EngineEvent):
    """An agent's loop body was on one record for its ``timeout``: the iteration was
    cancelled, the record acked unprocessed, and the agent goes on with the next one."""

    agent: str
    tp: TP
    offset: int
    after: float
    timeout: float

    @property
    def summary(self) -> str:
        return (
            f"agent {self.agent}: handler on {self.tp}@{self.offset} cancelled after "
            f"{self.after:.1f}s (timeout={self.timeout:g}s); the record is acked "
            "unprocessed and the agent goes on with the next message"
        )


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


@dataclass(slots=True, frozen=True, kw_only=True)
class StopStarted(EngineEvent):
    """``App.stop`` began.  ``held``: the records handlers are still on, which the stop
    waits for, up to ``timeout`` seconds (nothing: it only commits and leaves).  A second
    stop request (``request_stop``, a second Ctrl-C) ends the wait at once."""

    held: dict[TP, tuple[int, ...]]
    streams: tuple[str, ...]
    timeout: float
    on_for: float | None = None
    """Seconds the longest-running of those handlers has been on its record."""

    @property
    def summary(self) -> str:
        if not self.held:
            return "stopping: committing and leaving the group"
        since = f" (on it for {self.on_for:.1f}s)" if self.on_for is not None else ""
        return (
            f"stopping: waiting up to {self.timeout:g}s for {', '.join(self.streams)} to "
            f"finish {_held(self.held)}{since}; stop again (Ctrl-C, q) to stop at once, "
            "leaving it uncommitted"
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class StopLeftUncommitted(EngineEvent):
    """The stop did not wait for these records any longer: their handlers were cancelled,
    and they stay uncommitted, so the group consumes them again next time."""

    held: dict[TP, tuple[int, ...]]
    streams: tuple[str, ...]
    why: str
    """``timeout`` (``stop_drain_timeout`` passed) or ``hurried`` (a second stop request)."""
    waited: float

    @property
    def summary(self) -> str:
        how = (
            f"at once (asked again after {self.waited:.1f}s)"
            if self.why == "hurried"
            else f"after waiting {self.waited:.1f}s"
        )
        return (
            f"stopped {how} while {', '.join(self.streams) or 'a handler'} was still on "
            f"{_held(self.held)}: it stays uncommitted and is consumed again next time"
        )


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


def compact_tps(tps: Iterable[TP]) -> str:
    """``orders[0,1,3], audit[2]``: partitions grouped by topic, in order."""
    by_topic: dict[str, list[int]] = {}
    for tp in sorted(tps):
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{t}[{','.join(map(str, ps))}]" for t, ps in by_topic.items())


def _held(held: dict[TP, tuple[int, ...]]) -> str:
    return ", ".join(
        f"{tp}@{offsets[0]}" if len(offsets) == 1 else f"{tp}@{list(offsets)}"
        for tp, offsets in sorted(held.items())
    )


def _tps(tps: frozenset[TP]) -> str:
    return ", ".join(str(tp) for tp in sorted(tps)) or "nothing"


def _offsets(offsets: dict[TP, int]) -> str:
    return ", ".join(f"{tp}→{offset}" for tp, offset in sorted(offsets.items()))
