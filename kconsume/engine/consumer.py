"""The Consumer: delivers every fetched record to its callback and owns the commit state.

Responsibilities (after Faust's ``faust.transport.consumer.Consumer``):

* holds the transport that created it, and the app through ``transport.app``;
* calls its callback (normally ``Conductor.on_message``) for every record, a slice
  of records at a time through ``slice_callback`` (``Conductor.on_slice``) when it
  has one;
* tracks every delivered message per topic-partition until it is acked;
* commits, from a background routine every ``commit_interval`` seconds, each
  partition's oldest in-flight offset (or its delivered end when nothing is in
  flight), and warns when a partition's commit stops advancing.

The delivery path (:meth:`_deliver_batch`) works per slice: one call into the
partition's bookkeeping and one callback per slice of up to :data:`DELIVERY_SLICE`
records.  The per-message path left (:meth:`ack`) creates no tasks, takes no locks
and reads no clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from ..errors import KConsumeError
from .events import (
    CommitCompleted,
    CommitFailed,
    CommitStarted,
    EventBus,
    PartitionsAssigned,
    PartitionsRevoked,
    RebalanceStarted,
    RevokeDrainTimeout,
)
from .offsets import PartitionState
from .positions import StartAt
from .transport.base import (
    MessageCallback,
    PartitionsCallback,
    RecordLike,
    SliceCallback,
)
from .types import TP, Message

if TYPE_CHECKING:
    from .transport.base import Transport

__all__ = ["Consumer"]

log = logging.getLogger(__name__)

DEFAULT_COMMIT_INTERVAL = 2.8
DEFAULT_COMMIT_LIVELOCK_SOFT_TIMEOUT = 60.0
DEFAULT_REVOKE_DRAIN_TIMEOUT = 10.0
DEFAULT_STOP_DRAIN_TIMEOUT = 10.0
DEFAULT_COMMIT_TIMEOUT = 15.0
#: Records delivered between two chances for the streams to run.
DELIVERY_SLICE = 256


class Consumer:
    """Base consumer: delivery, ack bookkeeping, commits and livelock warnings.

    Created by ``Transport.create_consumer``; the transport also creates the
    driver (the Kafka client) this consumer drives.
    """

    #: Tuple of exception types that may be raised when the underlying consumer
    #: driver is stopped.  Each transport's consumer overrides it, from its driver.
    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(
        self,
        transport: Transport,
        callback: MessageCallback,
        on_partitions_revoked: PartitionsCallback,
        on_partitions_assigned: PartitionsCallback,
        *,
        slice_callback: SliceCallback | None = None,
        commit_interval: float | None = None,
        commit_livelock_soft_timeout: float | None = None,
        revoke_drain_timeout: float | None = None,
        commit_timeout: float = DEFAULT_COMMIT_TIMEOUT,
        start_at: StartAt | None = None,
        events: EventBus | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"unexpected consumer settings: {', '.join(sorted(kwargs))}")
        self.transport = transport
        #: Called for every message; the Conductor's ``on_message`` (sync or async).
        self.callback = callback
        #: Called instead of ``callback`` with each slice of messages, when set: the same
        #: delivery, batched (``Conductor.on_slice``).  Must not await.
        self.slice_callback = slice_callback
        self._on_partitions_revoked_cb = on_partitions_revoked
        self._on_partitions_assigned_cb = on_partitions_assigned
        self.commit_interval = commit_interval or DEFAULT_COMMIT_INTERVAL
        self.commit_livelock_soft_timeout = (
            commit_livelock_soft_timeout or DEFAULT_COMMIT_LIVELOCK_SOFT_TIMEOUT
        )
        self.revoke_drain_timeout = (
            revoke_drain_timeout
            if revoke_drain_timeout is not None
            else DEFAULT_REVOKE_DRAIN_TIMEOUT
        )
        #: How long one commit may take before it counts as failed.
        self.commit_timeout = commit_timeout
        #: Where partitions without a committed offset start (None: the driver's reset policy).
        self.start_at = start_at
        app = transport.app
        self.events = events or (app.events if app is not None else EventBus())
        self._driver = transport.create_driver(self)
        #: Bookkeeping per assigned partition; replaced on every assignment.
        self._states: dict[TP, PartitionState] = {}
        #: One event per task waiting in :meth:`_wait_until`; set when acks may settle it.
        self._settled: set[asyncio.Event] = set()
        self._commit_fut: asyncio.Future[bool] | None = None
        self._commit_task: asyncio.Task[None] | None = None
        self._rebalancing = False
        self._stopped = False
        #: Records fetched and delivered since start (for rates).
        self.delivered_total = 0
        #: Records dropped because they arrived for a partition no longer delivered.
        self.dropped_total = 0

    # -- properties ---------------------------------------------------------

    @property
    def _callback_is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.callback)

    @property
    def app(self) -> Any:
        return self.transport.app

    @property
    def driver(self) -> Any:
        return self._driver

    @property
    def group_id(self) -> str | None:
        return self._driver.group_id

    @property
    def live(self) -> int:
        """Delivered messages neither acked nor dropped, over all assigned partitions.

        Kept per partition only (``PartitionState.live``): O(partitions), read by
        waiters, never on the per-message path.
        """
        return sum(state.live for state in self._states.values())

    @property
    def rebalancing(self) -> bool:
        return self._rebalancing

    @property
    def unacked(self) -> set[Message]:
        """Every delivered message not yet acked (including those dropped on revoke)."""
        return {m for state in self._states.values() for m in state.inflight()}

    def assignment(self) -> frozenset[TP]:
        return frozenset(self._states)

    def partition_states(self) -> Mapping[TP, PartitionState]:
        """Live view of the per-partition bookkeeping (read-only by convention)."""
        return self._states

    # -- lifecycle ----------------------------------------------------------

    async def start(self, topics: Iterable[str]) -> None:
        """Start the driver (connect, check topics, subscribe) and the commit routine.

        Caller: ``App.start``.
        """
        await self._driver.start(topics)
        self._commit_task = asyncio.create_task(self._commit_routine(), name="kconsume-commit")

    async def on_stop(self) -> None:
        """Final commit and driver shutdown.  Caller: ``App.stop``, after streams are drained."""
        if self._stopped:
            return
        self._stopped = True
        await self._cancel_commit_task()
        with contextlib.suppress(*self.consumer_stopped_errors):
            await self.force_commit()
        await self._driver.stop()

    def close(self) -> None:
        """Stop background work without waiting (no final commit).  Safe to call twice."""
        self._stopped = True
        if self._commit_task is not None:
            self._commit_task.cancel()

    async def _cancel_commit_task(self) -> None:
        task, self._commit_task = self._commit_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def on_task_error(self, exc: BaseException) -> None:
        """A task of the engine failed: keep what was acked by committing it now."""
        # A KConsumeError is reported to the user by whoever runs the app.
        level = logging.DEBUG if isinstance(exc, KConsumeError) else logging.ERROR
        log.log(level, "engine task failed: %r; committing what is acked", exc)
        with contextlib.suppress(Exception):
            await self.force_commit()

    # -- fetching and delivery (per-message path) -----------------------------

    async def getmany(self, timeout: float) -> Mapping[TP, Sequence[RecordLike]]:
        """One fetch from the driver.  Caller: :meth:`drain_messages`."""
        return await self._driver.getmany(timeout)

    async def drain_messages(self) -> None:
        """Fetch and deliver until cancelled.  Caller: the Fetcher's routine."""
        while not self._stopped:
            try:
                batch = await self.getmany(1.0)
            except self.consumer_stopped_errors:
                return
            # Even an empty fetch moves positions (past transaction markers) and ends.
            await self._deliver_batch(batch)

    async def _deliver_batch(self, batch: Mapping[TP, Sequence[RecordLike]]) -> None:
        """Track every record of a fetched batch and hand it to the callback.

        Each partition's records go out in slices of :data:`DELIVERY_SLICE`: a slice is
        tracked as one unit (``PartitionState.deliver``) and handed over in one call, and
        the streams get to run between slices, so a large fetch never piles up in
        memory.  When a partition gets paused (a stream's buffer filled, or a user), the
        rest of its records are given back: the driver seeks to the first one not
        delivered.  Each partition's ``position`` moves to where the fetch left it once
        its records are delivered.
        """
        states = self._states
        driver = self._driver
        # Read before anything can await: where the fetch left each partition, past
        # the records it returned and the offsets that held none (transaction markers).
        positions = driver.fetch_positions()
        for tp, idle in states.items():
            if tp not in batch and idle.delivering:
                idle.fetched_to(positions.get(tp))
                self._note_fetch(idle)
        # The states as of this fetch: one replaced meanwhile (a rebalance) is inactive.
        targets = [(states.get(tp), tp, records) for tp, records in batch.items()]
        now = time.monotonic()
        first = True
        for state, tp, records in targets:
            if state is None:
                # Assigned, but its bookkeeping is not ready (the assignment is still being
                # set up): give the records back, or they would be skipped for good.
                self._give_back(tp, records)
                continue
            if not state.delivering:
                self.dropped_total += len(records)
                continue
            passed = positions.get(tp)  # everything below it is handed over
            for index in range(0, len(records), DELIVERY_SLICE):
                if not first:
                    await asyncio.sleep(0)  # let the streams take what is buffered
                    now = time.monotonic()
                    if not state.delivering:  # revoked meanwhile
                        passed = None
                        break
                first = False
                if state.paused_by:
                    passed = records[index].offset
                    driver.seek(state.tp, passed)
                    break
                chunk = (
                    records[index : index + DELIVERY_SLICE]
                    if index or len(records) > DELIVERY_SLICE
                    else records
                )
                slice_ = state.deliver(chunk, now)
                delivered = len(slice_.messages) if slice_ is not None else 0
                self.dropped_total += len(chunk) - delivered
                if slice_ is None:
                    continue
                self.delivered_total += delivered
                if not await self._hand_over(state, slice_.messages):
                    passed = None  # revoked while an async callback awaited
                    break
            if state.delivering:
                state.fetched_to(passed)
            self._note_fetch(state)

    async def _hand_over(self, state: PartitionState, messages: list[Message]) -> bool:
        """Give a tracked slice to the callback.  Caller: :meth:`_deliver_batch`.

        False if ``state`` stopped delivering meanwhile (only an async callback can let
        that happen): the messages not handed over are dropped, so a revoke never waits
        for them.
        """
        if self.slice_callback is not None:
            self.slice_callback(messages)
            return True
        callback = self.callback
        if not self._callback_is_async:
            for message in messages:
                callback(message)
            return True
        for index, message in enumerate(messages):
            await callback(message)  # type: ignore[misc]
            if not state.delivering:
                for left in messages[index + 1 :]:
                    self.drop(left)
                return False
        return True

    def _note_fetch(self, state: PartitionState) -> None:
        """Take the ends the last fetch reported.  Caller: :meth:`_deliver_batch`."""
        state.highwater = self._driver.highwater(state.tp)
        state.fetch_end = self._driver.fetch_end(state.tp)

    def _give_back(self, tp: TP, records: Sequence[RecordLike]) -> None:
        """Seek back to the first of ``records`` if the driver still has ``tp``."""
        self.dropped_total += len(records)
        if records and tp in self._driver.fetch_positions():
            self._driver.seek(TP(tp[0], tp[1]), records[0].offset)

    def track_message(self, message: Message) -> bool:
        """Start tracking a message delivered outside :meth:`drain_messages`.

        Caller: code that injects messages (tests, replays).  Returns False if its
        partition is not assigned or the offset was already delivered.
        """
        state = self._states.get(message.tp)
        if state is None or not state.delivering:
            return False
        if not state.track(message, time.monotonic()):
            return False
        self.delivered_total += 1
        return True

    def ack(self, message: Message) -> bool:
        """Mark a message's offset committable.  Caller: ``Stream`` when the refcount hits 0.

        Returns True if this call acked a tracked, in-flight message.  Acks for a
        revoked assignment, a dropped message or a repeated ack change nothing.
        """
        slice_ = message.slice
        if slice_ is None:
            return False
        state = slice_.state
        if not state.ack(message):
            return False
        if self._settled and (state.draining or not state.live):
            self._wake_waiters()
        return True

    def hold(self, message: Message) -> None:
        """Keep ``message`` unacked past its stream's loop body, until :meth:`release`.

        Caller: code that must finish work elsewhere first (``consume`` flushes its
        output before a message may be committed).
        """
        message.refcount += 1

    def release(self, message: Message) -> bool:
        """Drop a :meth:`hold`; acks the message if that was its last reference."""
        return message.decref() and self.ack(message)

    def drop(self, message: Message) -> None:
        """Give up on a delivered message without acking it (it stays uncommitted).

        Caller: the Conductor, when a revoke or stop removes it from stream buffers.
        The message keeps holding its partition's commit back, so it is fetched again
        by whoever consumes the partition next.
        """
        state = message.state
        if state is not None and state.drop(message) and self._settled:
            self._wake_waiters()

    # -- flow control -------------------------------------------------------

    def pause_partitions(self, tps: Iterable[TP], reason: str) -> None:
        """Pause fetching ``tps`` for ``reason`` (a stream name, or "user").

        Caller: a Stream whose buffer is full, or the dashboard.  A partition is
        fetched again once every reason that paused it is gone.
        """
        newly: list[TP] = []
        for tp in tps:
            state = self._states.get(tp)
            if state is None:
                continue
            if not state.paused_by:
                newly.append(tp)
            state.paused_by.add(reason)
        if newly:
            self._driver.pause(newly)

    def resume_partitions(self, tps: Iterable[TP], reason: str) -> None:
        """Undo :meth:`pause_partitions` for ``reason``."""
        freed: list[TP] = []
        for tp in tps:
            state = self._states.get(tp)
            if state is None or reason not in state.paused_by:
                continue
            state.paused_by.discard(reason)
            if not state.paused_by:
                freed.append(tp)
        if freed:
            self._driver.resume(freed)

    # -- waiting --------------------------------------------------------------

    async def wait_empty(self, timeout: float | None = None) -> bool:
        """Wait until every delivered message that was not dropped is acked.

        Returns False if ``timeout`` passed first.
        """
        return await self._wait_until(lambda: self.live == 0, timeout)

    async def _wait_until(self, condition: Callable[[], bool], timeout: float | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not condition():
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            settled = asyncio.Event()
            self._settled.add(settled)
            try:
                await asyncio.wait_for(settled.wait(), remaining)
            except TimeoutError:
                return condition()
            finally:
                self._settled.discard(settled)
        return True

    def _wake_waiters(self) -> None:
        """Let every :meth:`_wait_until` look at its condition again."""
        for settled in self._settled:
            settled.set()

    # -- rebalances -----------------------------------------------------------

    async def on_rebalance_started(self) -> None:
        """Caller: the driver, before it revokes anything."""
        self._rebalancing = True
        self.events.publish(RebalanceStarted())

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Stop delivering, drain what streams are processing, commit, forget.

        Caller: the driver during a rebalance (before the group reassigns).
        """
        self._rebalancing = True
        states = [self._states[tp] for tp in revoked if tp in self._states]
        for state in states:
            state.start_draining()
        # The app drops the partitions' messages that no stream has started.
        await self._on_partitions_revoked_cb(set(revoked))
        drained = await self._wait_until(
            lambda: all(state.live == 0 for state in states), self.revoke_drain_timeout
        )
        if states and self.group_id is not None:
            with contextlib.suppress(*self.consumer_stopped_errors):
                await self.force_commit({state.tp for state in states})
        if not drained:
            held = {
                state.tp: tuple(m.offset for m in state.inflight() if m.state is state)
                for state in states
                if state.live
            }
            drain = RevokeDrainTimeout(held=held, timeout=self.revoke_drain_timeout)
            log.warning("%s", drain.summary)
            self.events.publish(drain)
        for state in states:
            state.detach()
            del self._states[state.tp]
        self._wake_waiters()
        self.events.publish(PartitionsRevoked(tps=frozenset(revoked)))

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        """Create fresh bookkeeping at the group's committed offsets.

        Caller: the driver once the group has assigned partitions.  The partitions stay
        paused at the driver until their bookkeeping and start positions are set, so
        nothing is fetched for a partition the engine cannot track yet.  A failure here
        (the committed offsets or the start position cannot be read) crashes the app:
        the client would otherwise swallow it and fetch for nobody.
        """
        self._driver.pause(assigned)
        try:
            committed = await self._driver.committed(assigned) if assigned else {}
            await self._seek_to_start([tp for tp in assigned if committed.get(tp) is None])
        except Exception as exc:
            await self.on_task_error(exc)
            app = self.transport.app
            if app is not None:
                app.crash(exc)  # whoever runs the app reports it, once
                return
            raise
        now = time.monotonic()
        for tp in assigned:
            tp = TP(tp.topic, tp.partition)
            old = self._states.get(tp)
            if old is not None and old.active:  # kept across the rebalance
                continue
            self._states[tp] = PartitionState(tp, committed.get(tp), now)
        self._driver.resume([tp for tp in assigned if not self._states[tp].paused_by])
        await self._on_partitions_assigned_cb(set(assigned))
        self._rebalancing = False
        self.events.publish(
            PartitionsAssigned(tps=frozenset(assigned), generation=self._driver.generation)
        )

    async def _seek_to_start(self, tps: list[TP]) -> None:
        """Position partitions that have no committed offset at ``start_at``."""
        start = self.start_at
        if not tps or start is None or start.kind == "stored":
            return
        for tp, offset in (await self._driver.start_offsets(tps, start)).items():
            self._driver.seek(tp, offset)

    # -- commits --------------------------------------------------------------

    def _committable(self, topics: AbstractSet[str | TP] | None) -> dict[TP, int]:
        offsets: dict[TP, int] = {}
        for tp, state in self._states.items():
            if topics is not None and tp not in topics and tp.topic not in topics:
                continue
            offset = state.committable()
            if offset is not None:
                offsets[tp] = offset
        return offsets

    async def commit(self, topics: AbstractSet[str | TP] | None = None) -> bool:
        """Commit what is committable, joining a commit already under way.

        ``topics`` limits the commit to these topic names and/or partitions.  A
        caller that finds a commit in flight waits for it, then commits again only
        if that commit did not cover the offsets committable when it was called:
        calls coalesce, but no caller returns on a stale commit.  Returns True if
        the offsets committable at the call are now committed.
        """
        if self.group_id is None:
            return False
        wanted = self._committable(topics)
        if not wanted:
            return False
        while await self.maybe_wait_for_commit_to_finish():
            wanted = {
                tp: offset
                for tp, offset in wanted.items()
                if (state := self._states.get(tp)) is not None
                and (state.committed is None or state.committed < offset)
            }
            if not wanted:
                return True
        return await self.force_commit(topics)

    async def maybe_wait_for_commit_to_finish(self) -> bool:
        """If a commit is in flight, wait for it and return True."""
        fut = self._commit_fut
        if fut is None:
            return False
        with contextlib.suppress(Exception):
            await asyncio.shield(fut)
        return True

    async def force_commit(self, topics: AbstractSet[str | TP] | None = None) -> bool:
        """Commit the committable offsets now (after any commit in flight).

        Returns True if everything committable was committed.  A failure leaves
        the committed offsets unchanged and is published as ``CommitFailed``.
        """
        if self.group_id is None:
            return False
        while self._commit_fut is not None:
            await self.maybe_wait_for_commit_to_finish()
        offsets = self._committable(topics)
        if not offsets:
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._commit_fut = fut
        ok = False
        try:
            ok = await self._commit_offsets(offsets)
        finally:
            self._commit_fut = None
            fut.set_result(ok)
        return ok

    async def _commit_offsets(self, offsets: dict[TP, int]) -> bool:
        self.events.publish(CommitStarted(offsets=offsets))
        started = time.monotonic()
        error: str | None = None
        try:
            # The client retries a lost coordinator forever; a bound turns that into a failure.
            await asyncio.wait_for(self._driver.commit(offsets), self.commit_timeout)
        except self.consumer_stopped_errors:
            raise
        except TimeoutError:
            error = f"no answer from the group coordinator in {self.commit_timeout:g}s"
        except Exception as exc:  # any broker error: report it, keep the old offsets
            text = " ".join(str(exc).split())  # some clients' messages span lines
            error = f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
        now = time.monotonic()
        for tp, offset in offsets.items():
            state = self._states.get(tp)
            if state is None:
                continue
            state.on_commit_result(offset, error is None, now, error)
        if error is not None:
            log.warning("commit of %s failed: %s", offsets, error)
            self.events.publish(CommitFailed(offsets=offsets, error=error))
            return False
        self.events.publish(CommitCompleted(offsets=offsets, duration=now - started))
        return True

    async def _commit_routine(self) -> None:
        """Commit every ``commit_interval`` (the watchdog tells when commits stall).

        Owned by the consumer: started in :meth:`start`, cancelled by :meth:`on_stop`.
        """
        while True:
            await asyncio.sleep(self.commit_interval)
            try:
                if not self._rebalancing:
                    await self.commit()
            except self.consumer_stopped_errors:
                return
            except Exception as exc:
                await self.on_task_error(exc)
