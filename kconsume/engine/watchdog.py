"""The watchdog: one routine that tells *why* a commit, a stream or the loop is stuck.

Every ``interval`` seconds, on the monotonic clock, it looks at every assigned
partition and every stream and publishes a ``WatchdogWarning`` naming the cause when
one appears, and a ``WatchdogCleared`` when it goes away:

* **head-of-line** (``LivelockWarning``): a partition's commit has not moved for
  ``commit_livelock_soft_timeout`` while work is pending; names the blocking offset,
  its age, the streams still holding it and a preview of its key;
* **stream-not-started** / **stream-slow** (``StreamStalledWarning``): messages wait in
  a stream's buffer and it has taken none for ``stream_processing_timeout``;
* **loop-blocked** (``LoopBlockedWarning``): the watchdog's own timer woke up late by
  more than ``loop_block_threshold``: something ran on the loop without awaiting; names
  who (the agent and its record, or the task, and where), sampled by the clock thread;
* **fetch-stalled** (``FetchStalledWarning``): the highwater is past the position and
  nothing arrived for ``fetch_stall_timeout`` (a partition paused on purpose is not);
* **commit-failing** (``CommitFailingWarning``): ``commit_failures_warning`` commits of
  a partition failed in a row;
* **back-pressure** (``BackPressureWarning``): a stream's buffer is full and it paused
  the fetching of its partitions (at once: it is a state, not a grace period).

(The consumer reports the sixth cause, a rebalance drain that timed out, itself.)

Clocks start at assignment and restart after every rebalance, so a rebalance never
raises a false alarm.  Nothing here runs per message: the watchdog reads the state
the engine keeps anyway.  Every warning and clearance is also logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from .events import (
    BackPressureWarning,
    CommitFailingWarning,
    EngineEvent,
    FetchStalledWarning,
    LivelockCleared,
    LivelockWarning,
    LoopBlockedWarning,
    StreamStalledWarning,
    WatchdogCleared,
    WatchdogWarning,
)
from .types import TP, Message

if TYPE_CHECKING:
    from .conductor import Conductor
    from .consumer import Consumer
    from .events import EventBus
    from .offsets import PartitionState
    from .stream import Stream

__all__ = ["Watchdog", "WatchdogSettings"]

log = logging.getLogger("kconsume.watchdog")

KEY_PREVIEW = 40
#: Agents' task names start with this (``App.start``); the rest is the agent's name.
AGENT_TASK_PREFIX = "kconsume-agent-"


@dataclass(slots=True)
class WatchdogSettings:
    interval: float = 1.0
    commit_livelock_soft_timeout: float = 60.0
    stream_processing_timeout: float = 60.0
    fetch_stall_timeout: float = 30.0
    loop_block_threshold: float = 1.0
    commit_failures_warning: int = 3


@dataclass(slots=True)
class _StreamClock:
    processed: int
    since: float | None = None


@dataclass(slots=True)
class _FetchClock:
    delivered_end: int | None
    since: float


@dataclass(slots=True)
class _StallClock:
    """How long a partition's commit has stood still while work was pending."""

    state_id: int
    """The assignment it belongs to (a new one restarts the clock)."""
    committed: int | None
    """The committed offset when the clock (re)started."""
    since: float | None = None
    """When work was first seen pending at that offset (None: nothing pending)."""
    warned: bool = False


@dataclass(slots=True)
class _Streak:
    """Consecutive samples that found the loop running the same task (or callback)."""

    key: object
    first: float
    last: float
    where: str

    @property
    def length(self) -> float:
        return self.last - self.first


Describe = Callable[["asyncio.Task[object] | None", FrameType], str]


class ThreadClock:
    """A daemon thread that ticks every ``period`` seconds and remembers its longest gap.

    When the event loop wakes up late, this tells why: if the thread ticked on, code
    held the loop (a blocking call); if its ticks stopped too, the whole process was
    suspended (SIGSTOP, a paused container or VM, a machine asleep) and no code ran.

    Given the loop (``start`` from the loop's thread), each tick also samples what the
    loop's thread is running, as asyncio's debug mode names a slow callback: the current
    task and the innermost frame of code outside the standard library.  The longest run
    of samples on one task is who held the loop (``take_culprit``).  Ten samples a second
    from this thread; nothing on the loop.
    """

    def __init__(self, period: float = 0.1, describe: Describe | None = None) -> None:
        self._period = period
        self._last = time.monotonic()
        self._longest_gap = 0.0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kconsume-clock", daemon=True)
        self._describe = describe or describe_running
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._streak: _Streak | None = None
        self._longest: _Streak | None = None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start ticking.  Caller: the watchdog, on the loop's thread (``loop``: sample it)."""
        if loop is not None:
            self._loop, self._loop_thread = loop, threading.get_ident()
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()

    def _run(self) -> None:
        while not self._halt.wait(self._period):
            now = time.monotonic()
            self._longest_gap = max(self._longest_gap, now - self._last)
            self._last = now
            try:
                self._sample(now)
            except Exception:  # sampling must never stop the clock
                self._streak = None

    def _sample(self, now: float) -> None:
        loop, ident = self._loop, self._loop_thread
        if loop is None or ident is None:
            return
        frame = sys._current_frames().get(ident)
        if frame is None or _idle(frame):
            self._streak = None  # waiting in select(): the loop is free
            return
        task = asyncio.current_task(loop)
        key: object = id(task) if task is not None else (frame.f_code, frame.f_lineno)
        streak = self._streak
        if streak is None or streak.key != key:
            streak = self._streak = _Streak(key, now, now, "")
        streak.last = now
        streak.where = self._describe(task, frame)  # where it is now, the latest word
        longest = self._longest
        if longest is None or streak.length > longest.length or longest is streak:
            self._longest = streak

    def take_longest_gap(self) -> float:
        """The longest gap between ticks since the last call (then forgotten)."""
        gap = max(self._longest_gap, time.monotonic() - self._last)
        self._longest_gap = 0.0
        return gap

    def take_culprit(self) -> tuple[str, float] | None:
        """Who held the loop longest since the last call, and for how long (then
        forgotten): a description from the samples, None if no run was seen."""
        longest, self._longest = self._longest, None
        if longest is None or not longest.where:
            return None
        return longest.where, longest.length + self._period


def _idle(frame: FrameType) -> bool:
    """True when the loop's thread waits for I/O in the selector (nothing runs)."""
    name = frame.f_code.co_filename
    return name.endswith(("selectors.py", "base_events.py")) and frame.f_code.co_name in (
        "select",
        "_run_once",
    )


_STDLIB = sysconfig.get_paths()["stdlib"]


def describe_running(task: asyncio.Task[object] | None, frame: FrameType) -> str:
    """``task NAME (coro QUALNAME) at FILE:LINE in FUNCTION``, the frame being the innermost
    one outside the standard library (a ``time.sleep`` shows its caller)."""
    code: FrameType | None = frame
    while code is not None and code.f_code.co_filename.startswith(_STDLIB):
        code = code.f_back
    where = code or frame
    location = (
        f"{os.path.basename(where.f_code.co_filename)}:{where.f_lineno} in {where.f_code.co_name}"
    )
    if task is None:
        return f"a callback at {location}"
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", type(coro).__name__)
    return f"task {task.get_name()} ({qualname}) at {location}"


class Watchdog:
    """Owned by the App: started with it, stopped before it stops the consumer."""

    def __init__(
        self,
        consumer: Consumer,
        conductor: Conductor,
        events: EventBus,
        settings: WatchdogSettings,
    ) -> None:
        self.consumer = consumer
        #: Where the streams are (the conductor's registry).
        self.conductor = conductor
        self.events = events
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        #: Warnings currently raised, by (cause, subject).
        self.active: dict[tuple[str, str], WatchdogWarning] = {}
        self._streams: dict[str, _StreamClock] = {}
        self._fetch: dict[TP, _FetchClock] = {}
        #: Identity of each partition's bookkeeping, to notice a new assignment.
        self._seen: dict[TP, int] = {}
        #: The head-of-line clocks, per partition; owned here, read by snapshots.
        self._stall: dict[TP, _StallClock] = {}
        self._clock: ThreadClock | None = None

    def start(self) -> None:
        if self._task is None:
            self._clock = ThreadClock(describe=self.describe_running)
            self._clock.start(asyncio.get_running_loop())
            self._task = asyncio.create_task(self._watch_routine(), name="kconsume-watchdog")

    async def stop(self) -> None:
        task, self._task = self._task, None
        clock, self._clock = self._clock, None
        if clock is not None:
            clock.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_routine(self) -> None:
        """Tick every ``interval``; a late tick is itself the loop-blocked signal."""
        loop = asyncio.get_running_loop()
        interval = self.settings.interval
        while True:
            before = loop.time()
            await asyncio.sleep(interval)
            now = loop.time()
            drift = now - before - interval
            clock = self._clock
            gap = clock.take_longest_gap() if clock is not None else 0.0
            culprit = clock.take_culprit() if clock is not None else None
            try:
                self.check(
                    now,
                    drift=drift,
                    suspended=drift > 0 and gap >= drift * 0.8,
                    culprit=culprit[0] if culprit is not None else None,
                )
            except Exception:  # a watchdog bug must never stop the engine
                log.exception("watchdog check failed")

    # -- the checks ----------------------------------------------------------------

    def check(
        self, now: float, drift: float = 0.0, suspended: bool = False, culprit: str | None = None
    ) -> None:
        """Run every check once.  Caller: the routine (and tests, with a fake clock).

        ``suspended``: the whole process, not just the loop, stood still for ``drift``;
        ``culprit``: what the loop's thread was seen running longest meanwhile.
        """
        self._check_loop(drift, suspended, culprit)
        consumer = self.consumer
        if consumer.rebalancing:
            return
        states = consumer.partition_states()
        # A rebalance (even one that hands back the same partitions: new states) restarts
        # every grace period.
        seen = {tp: id(state) for tp, state in states.items()}
        if seen != self._seen:
            self._seen = seen
            self._streams.clear()
            self._fetch = {tp: f for tp, f in self._fetch.items() if tp in states}
            self._stall = {tp: c for tp, c in self._stall.items() if seen.get(tp) == c.state_id}
            for key in [k for k in self.active if k[0] != "loop-blocked"]:
                warning = self.active[key]
                if getattr(warning, "tp", None) is not None or key[0].startswith("stream"):
                    self._clear(*key)
        for tp, state in states.items():
            self._check_head_of_line(tp, state, now)
            self._check_fetch(tp, state, now)
            self._check_commits(tp, state)
        for stream in self.conductor.streams:
            self._check_stream(stream, now)
            self._check_backpressure(stream, states, now)

    def _check_loop(self, drift: float, suspended: bool, culprit: str | None) -> None:
        threshold = self.settings.loop_block_threshold
        if drift >= threshold:
            warning = LoopBlockedWarning(
                drift=drift,
                interval=self.settings.interval,
                suspended=suspended,
                culprit=None if suspended else culprit,
            )
            self._raise(warning, True)
        elif drift < threshold / 2:
            self._clear("loop-blocked", "loop")

    # -- what snapshots read ----------------------------------------------------------

    def _clock_of(self, tp: TP) -> _StallClock | None:
        """``tp``'s stall clock, if it belongs to the current assignment.

        A clock outlives its assignment until the next check that is not during a
        rebalance; it must not flag the new assignment's partition meanwhile.
        """
        clock = self._stall.get(tp)
        state = self.consumer.partition_states().get(tp)
        if clock is None or state is None or clock.state_id != id(state):
            return None
        return clock

    def stalled_since(self, tp: TP) -> float | None:
        """Since when ``tp``'s commit has stood still with work pending (None: it has not)."""
        clock = self._clock_of(tp)
        return clock.since if clock is not None else None

    def livelock_warned(self, tp: TP) -> bool:
        """True while a head-of-line warning about ``tp`` stands.  Caller: snapshots."""
        clock = self._clock_of(tp)
        return clock is not None and clock.warned

    def _check_head_of_line(self, tp: TP, state: PartitionState, now: float) -> None:
        clock = self._stall.get(tp)
        if clock is None or clock.state_id != id(state):
            clock = self._stall[tp] = _StallClock(id(state), state.committed)
        raised = self.active.get(("head-of-line", str(tp)))
        if isinstance(raised, LivelockWarning) and (
            state.committed != raised.committed or not state.pending
        ):
            del self.active[("head-of-line", str(tp))]
            clock.warned = False
            self._publish(LivelockCleared(tp=tp, committed=state.committed))
        if clock.committed != state.committed:  # the commit moved: the clock restarts
            clock.committed, clock.since, clock.warned = state.committed, None, False
        if not state.pending:
            clock.since = None
            return
        if clock.since is None:
            clock.since = now
            return
        stalled_for = now - clock.since
        if stalled_for < self.settings.commit_livelock_soft_timeout or clock.warned:
            return
        clock.warned = True
        oldest = state.oldest_inflight
        self._raise(
            LivelockWarning(
                tp=tp,
                committed=state.committed,
                blocking_offset=oldest.offset if oldest is not None else None,
                stalled_for=stalled_for,
                age=now - delivered
                if (delivered := state.oldest_delivered_at) is not None
                else None,
                streams=self.holders(oldest) if oldest is not None else (),
                key_preview=_preview(oldest.key) if oldest is not None else None,
                queued_behind=self._queued_behind(oldest, now) if oldest is not None else (),
            )
        )

    def _check_fetch(self, tp: TP, state: PartitionState, now: float) -> None:
        clock = self._fetch.get(tp)
        consumed = state.consumed_end
        if clock is None or clock.delivered_end != consumed:
            self._fetch[tp] = _FetchClock(consumed, now)
            self._clear("fetch-stalled", str(tp))
            return
        position = consumed if consumed is not None else state.committed
        highwater = state.highwater
        # What a fetch can read: records of open transactions wait under read_committed.
        readable = state.fetch_end if state.fetch_end is not None else highwater
        behind = readable is not None and readable > (position or 0)
        if state.paused_by or not behind:
            clock.since = now
            self._clear("fetch-stalled", str(tp))
            return
        stalled_for = now - clock.since
        if stalled_for >= self.settings.fetch_stall_timeout and highwater is not None:
            self._raise(
                FetchStalledWarning(
                    tp=tp, position=position, highwater=highwater, stalled_for=stalled_for
                )
            )

    def _check_commits(self, tp: TP, state: PartitionState) -> None:
        failures = state.commits_failed_in_a_row
        if failures >= self.settings.commit_failures_warning:
            self._raise(
                CommitFailingWarning(
                    tp=tp, failures=failures, error=state.last_commit_error or "unknown error"
                )
            )
        elif failures == 0:
            self._clear("commit-failing", str(tp))

    def _check_stream(self, stream: Stream, now: float) -> None:
        stream.current_since(now)  # a look every tick keeps the stream's clock close
        clock = self._streams.get(stream.name)
        waiting = stream.buffered
        if clock is None or clock.processed != stream.processed or not waiting:
            self._streams[stream.name] = _StreamClock(stream.processed, now if waiting else None)
            subject = f"stream {stream.name}"
            self._clear("stream-not-started", subject)
            self._clear("stream-slow", subject)
            return
        if clock.since is None:
            clock.since = now
            return
        stalled_for = now - clock.since
        if stalled_for < self.settings.stream_processing_timeout:
            return
        current = stream.current
        never_read = stream.processed == 0 and current is None
        self._raise(
            StreamStalledWarning(
                cause="stream-not-started" if never_read else "stream-slow",
                stream=stream.name,
                waiting=waiting,
                stalled_for=stalled_for,
                current=current.message.tp if current is not None else None,
                current_offset=current.message.offset if current is not None else None,
                current_for=now - since
                if (since := stream.current_since(now)) is not None
                else None,
            )
        )

    def _check_backpressure(
        self, stream: Stream, states: Mapping[TP, PartitionState], now: float
    ) -> None:
        """Raised at once while a stream's full buffer pauses partitions; cleared on resume."""
        subject = f"stream {stream.name}"
        if not stream.paused:
            self._clear("back-pressure", subject)
            return
        current = stream.current
        self._raise(
            BackPressureWarning(
                stream=stream.name,
                tps=tuple(sorted(tp for tp, s in states.items() if stream.name in s.paused_by)),
                buffered=stream.buffered,
                maxsize=stream.maxsize,
                current=current.message.tp if current is not None else None,
                current_offset=current.message.offset if current is not None else None,
                current_for=now - since
                if current is not None and (since := stream.current_since(now)) is not None
                else None,
            )
        )

    # -- helpers -------------------------------------------------------------------

    def describe_running(self, task: asyncio.Task[object] | None, frame: FrameType) -> str:
        """What the loop runs, for the loop-blocked warning: an agent's task is named as
        the agent and the record its stream is on.  Caller: the clock's thread (reads
        only)."""
        where = describe_running(task, frame)
        name = task.get_name() if task is not None else ""
        if name.startswith(AGENT_TASK_PREFIX):
            agent = name[len(AGENT_TASK_PREFIX) :]
            for stream in self.conductor.streams:
                current = stream.current
                if stream.name == agent and current is not None:
                    m = current.message
                    return f"agent {agent} on {m.tp}@{m.offset}, {where}"
            return f"agent {agent}, {where}"
        return where

    def holders(self, message: Message) -> tuple[str, ...]:
        """Names of the streams that still hold ``message`` (on it, or buffered)."""
        return tuple(s.name for s in self.conductor.streams if s.holds(message))

    def _queued_behind(self, message: Message, now: float) -> tuple[str, ...]:
        """For each stream with ``message`` buffered, what that stream is on instead."""
        out = []
        for stream in self.conductor.streams:
            current = stream.current
            if current is None or current.message is message or not stream.holds(message):
                continue
            on = current.message
            since = stream.current_since(now)
            on_for = now - since if since is not None else 0.0
            out.append(f"{stream.name} on {on.tp}@{on.offset} for {on_for:.1f}s")
        return tuple(out)

    def _raise(self, warning: WatchdogWarning, repeat: bool = False) -> None:
        key = (warning.cause, warning.subject)
        if key in self.active and not repeat:
            return
        self.active[key] = warning
        self._publish(warning)

    def _clear(self, cause: str, subject: str) -> None:
        if self.active.pop((cause, subject), None) is not None:
            self._publish(WatchdogCleared(cause=cause, subject=subject))

    def _publish(self, event: EngineEvent) -> None:
        log.warning("%s", event.summary, extra={"kconsume_event": True})
        self.events.publish(event)


def _preview(key: bytes | None) -> str | None:
    if key is None:
        return None
    text = key.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= KEY_PREVIEW else text[:KEY_PREVIEW] + "…")
