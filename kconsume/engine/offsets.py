"""Per-partition ack bookkeeping: what was delivered, what is in flight, what may be committed.

One :class:`PartitionState` exists per assigned topic-partition and generation of
assignment.  It is the single source of truth for that partition's offsets, in the
spirit of aiokafka's ``TopicPartitionState``.

Offsets follow one convention (docs/architecture.md): ``committed`` and
``delivered_end`` both mean "the next offset to consume", and ranges are half-open.

Delivery is tracked per :class:`Slice`: a run of up to ``DELIVERY_SLICE`` records of
one partition handed over together.  A slice counts its messages still pending; an
ack decrements the count, and a slice whose count reaches zero is forgotten at once.
The in-flight slices live in a dict keyed by their first offset: slices are delivered
in ascending offset order, so the dict's insertion order is offset order and its
first slice holds the oldest in-flight offset.  Acked offsets are not stored at all:
the acked ranges are the gaps between in-flight messages inside ``[committed,
delivered_end)``.  Memory is therefore bounded by the in-flight slices, whatever
happens after a stuck message, and offsets that were never delivered (compaction,
transaction markers) can never block a commit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .types import TP, Message

if TYPE_CHECKING:
    from .transport.base import RecordLike

__all__ = ["Lifecycle", "PartitionState", "Range", "Slice"]


class Lifecycle(enum.Enum):
    """Where an assignment of a partition is in its life."""

    DELIVERING = "delivering"
    """Assigned: fetched records are delivered."""
    DRAINING = "draining"
    """Being revoked: fetched records are dropped; the revoke waits for in-flight ones."""
    DETACHED = "detached"
    """Revoked: late acks change nothing, so an earlier assignment never moves a commit."""


@dataclass(slots=True, frozen=True)
class Range:
    """A half-open range of offsets ``[start, end)``."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


#: The messages of every settled slice: nothing left to track.
_SETTLED: list[Message] = []


class Slice:
    """A run of one partition's messages delivered together, tracked as one unit.

    Created by :meth:`PartitionState.deliver` (or :meth:`PartitionState.track` for a
    message injected on its own).  ``pending`` counts its messages not yet acked; the
    state forgets the slice the moment it reaches zero.  ``head`` is the index of the
    first message that may still be pending: it only moves forward, over acked
    messages, when the commit rule asks for the oldest in-flight offset.
    """

    __slots__ = ("delivered_at", "head", "messages", "pending", "start", "state")

    def __init__(self, state: PartitionState, delivered_at: float) -> None:
        self.state = state
        #: ``time.monotonic()`` of the delivery: one clock read per slice, not per message.
        self.delivered_at = delivered_at
        #: The slice's messages in ascending offset order (not always consecutive).
        self.messages: list[Message] = []
        self.pending = 0
        self.head = 0
        #: The first message's offset: the slice's key in ``PartitionState.slices``.
        self.start = 0

    def oldest(self) -> Message | None:
        """The first message not acked (a dropped one counts: it is still in flight)."""
        messages, head = self.messages, self.head
        count = len(messages)
        while head < count and messages[head].acked:
            head += 1
        self.head = head
        return messages[head] if head < count else None

    def inflight(self) -> Iterator[Message]:
        """Its messages not acked yet, oldest first."""
        messages = self.messages
        for index in range(self.head, len(messages)):
            if not messages[index].acked:
                yield messages[index]

    def __repr__(self) -> str:
        return f"<Slice {self.state.tp}@{self.start} pending={self.pending}/{len(self.messages)}>"


class PartitionState:
    """Offsets and in-flight messages of one assigned topic-partition.

    Created by the Consumer when the partition is assigned; its :class:`Lifecycle`
    moves forward only, through :meth:`start_draining` and :meth:`detach`.  A detached
    state ignores late acks, so a message from an earlier assignment can never move a
    newer commit.
    """

    __slots__ = (
        "assigned_at",
        "commits_failed",
        "commits_failed_in_a_row",
        "commits_ok",
        "committed",
        "committed_moved_at",
        "delivered_end",
        "fetch_end",
        "highwater",
        "last_commit_at",
        "last_commit_error",
        "last_commit_ok",
        "lifecycle",
        "live",
        "paused_by",
        "position",
        "slices",
        "tp",
    )

    def __init__(self, tp: TP, committed: int | None, now: float) -> None:
        self.tp = tp
        #: Next offset to consume as committed for the group (None: nothing committed yet).
        self.committed = committed
        #: One past the last delivered offset (None: nothing delivered yet).
        self.delivered_end: int | None = None
        #: Slices with messages not yet acked, by first offset, in ascending offset order.
        self.slices: dict[int, Slice] = {}
        #: Everything below it was handed over by the driver: delivered, or held no data
        #: record (a transaction marker, an aborted or compacted-away record).  Set only
        #: by :meth:`fetched_to`, after a fetch is delivered; None before the first fetch.
        self.position: int | None = None
        #: Log end offset as last reported by the fetcher, when known.
        self.highwater: int | None = None
        #: Where a fetch can read up to, as last reported (the last stable offset under
        #: read_committed, else the highwater): the end of what this consumer can see.
        self.fetch_end: int | None = None
        #: In-flight messages that may still be acked (not dropped from a buffer).
        self.live = 0
        self.lifecycle = Lifecycle.DELIVERING
        #: ``time.monotonic()`` of the assignment: grace periods start here.
        self.assigned_at = now
        #: ``time.monotonic()`` when ``committed`` last moved (or the assignment).
        self.committed_moved_at = now
        self.last_commit_at: float | None = None
        self.last_commit_ok: bool | None = None
        self.last_commit_error: str | None = None
        self.commits_ok = 0
        self.commits_failed = 0
        self.commits_failed_in_a_row = 0
        #: Why the partition is paused at the transport (stream names, "user").
        self.paused_by: set[str] = set()

    # -- lifecycle ----------------------------------------------------------------

    @property
    def delivering(self) -> bool:
        """Fetched records are delivered (not being revoked, not revoked)."""
        return self.lifecycle is Lifecycle.DELIVERING

    @property
    def draining(self) -> bool:
        """A revoke waits for this partition's in-flight messages."""
        return self.lifecycle is Lifecycle.DRAINING

    @property
    def active(self) -> bool:
        """Not revoked yet: acks still count."""
        return self.lifecycle is not Lifecycle.DETACHED

    def start_draining(self) -> None:
        """Stop delivering.  Caller: ``Consumer.on_partitions_revoked``."""
        if self.lifecycle is Lifecycle.DELIVERING:
            self.lifecycle = Lifecycle.DRAINING

    def detach(self) -> None:
        """The revoke is done: forget in-flight counts, ignore late acks from now on.

        Caller: ``Consumer.on_partitions_revoked``.
        """
        self.lifecycle = Lifecycle.DETACHED
        self.live = 0

    # -- the delivery path: per slice; per message only what an ack needs ------

    def deliver(self, records: Sequence[RecordLike], now: float) -> Slice | None:
        """Track a fetched run of records as one slice and return it.

        Caller: ``Consumer._deliver_batch``, for each slice of a fetch, in offset order.
        Records below ``delivered_end`` (a redelivery, which would break the ascending
        order the bookkeeping relies on) are left out; they can only lead a fetch.
        Returns None when nothing is left.
        """
        end = self.delivered_end
        if end is not None and records and records[0].offset < end:
            records = [record for record in records if record.offset >= end]
        if not records:
            return None
        slice_ = Slice(self, now)
        tp = self.tp
        messages = slice_.messages = [
            Message(tp, r.offset, r.timestamp, r.key, r.value, r.headers, slice_) for r in records
        ]
        count = len(messages)
        slice_.pending = count
        slice_.start = start = messages[0].offset
        self.slices[start] = slice_
        self.delivered_end = messages[-1].offset + 1
        self.live += count
        return slice_

    def track(self, message: Message, now: float = 0.0) -> bool:
        """Track one message delivered on its own, as a slice of one.

        Caller: ``Consumer.track_message``.  Returns False (and changes nothing) for an
        offset below ``delivered_end``.
        """
        offset = message.offset
        end = self.delivered_end
        if end is not None and offset < end:
            return False
        slice_ = Slice(self, now)
        slice_.messages = [message]
        slice_.pending = 1
        slice_.start = offset
        message.slice = slice_
        self.slices[offset] = slice_
        self.delivered_end = offset + 1
        self.live += 1
        return True

    def ack(self, message: Message) -> bool:
        """Mark ``message`` done.  Caller: ``Consumer.ack``, once its refcount is zero.

        True if it was in flight here: delivered, not acked, not dropped, and this
        assignment not detached.  A slice whose last message is acked is forgotten.
        """
        if message.acked:
            return False
        slice_ = message.slice
        if slice_ is None:  # dropped, or never tracked: it stays where it is
            return False
        message.acked = True
        if self.lifecycle is Lifecycle.DETACHED:
            return False
        pending = slice_.pending - 1
        slice_.pending = pending
        if not pending:
            del self.slices[slice_.start]
            # Messages point at their slice: letting go of them ends the cycle, so
            # they are freed by reference counting, not by the garbage collector.
            slice_.messages = _SETTLED
        self.live -= 1
        return True

    def drop(self, message: Message) -> bool:
        """Stop counting ``message`` as live without acking it.  Caller: ``Consumer.drop``.

        It stays in flight and keeps holding the commit back, so whoever consumes the
        partition next fetches it again.  True if it was live here.
        """
        slice_ = message.slice
        if slice_ is None or slice_.state is not self or message.acked:
            return False
        if self.lifecycle is Lifecycle.DETACHED:
            return False
        message.slice = None
        self.live -= 1
        return True

    def fetched_to(self, position: int | None) -> None:
        """Record that the driver has handed over everything below ``position``.

        Caller: ``Consumer._deliver_batch``, once a fetch's records of this partition
        are delivered (or given back from ``position`` on).  Only moves forward.
        """
        if position is not None and (self.position is None or position > self.position):
            self.position = position

    @property
    def consumed_end(self) -> int | None:
        """One past everything delivered or passed over: ``max(delivered_end, position)``.

        Above ``delivered_end`` when the last offsets held no data records (a
        transaction's commit marker, aborted or compacted records).
        """
        end, position = self.delivered_end, self.position
        if position is None or (end is not None and end >= position):
            return end
        return position

    # -- commit path ------------------------------------------------------------

    @property
    def oldest_inflight(self) -> Message | None:
        """The oldest delivered-but-unacked message: the one holding the commit back."""
        for slice_ in self.slices.values():
            return slice_.oldest()
        return None

    @property
    def oldest_delivered_at(self) -> float | None:
        """When the oldest in-flight message was delivered (``time.monotonic()``)."""
        for slice_ in self.slices.values():
            return slice_.delivered_at
        return None

    def inflight(self) -> Iterator[Message]:
        """Every delivered message not yet acked (dropped ones included), oldest first."""
        for slice_ in self.slices.values():
            yield from slice_.inflight()

    @property
    def inflight_count(self) -> int:
        """How many delivered messages are not acked yet: O(in-flight slices)."""
        return sum(slice_.pending for slice_ in self.slices.values())

    def find(self, offset: int) -> Message | None:
        """The in-flight message at ``offset``, if any (an observer's lookup, O(in flight))."""
        for slice_ in self.slices.values():
            if slice_.start > offset:
                return None
            for message in slice_.inflight():
                if message.offset == offset:
                    return message
        return None

    def committable(self) -> int | None:
        """The offset a commit may move to now, or None if it would not advance.

        The oldest in-flight offset, or :attr:`consumed_end` when nothing is in
        flight (so trailing transaction markers never hold a commit back).  Never
        below ``committed``: commits do not move backwards.
        """
        oldest = self.oldest_inflight
        target = oldest.offset if oldest is not None else self.consumed_end
        if target is None:
            return None
        if self.committed is not None and target <= self.committed:
            return None
        return target

    def on_commit_result(self, offset: int, ok: bool, now: float, error: str | None = None) -> bool:
        """Apply the result of a commit of ``offset``.  Caller: ``Consumer.force_commit``.

        Returns True if ``committed`` moved.  A failed commit leaves it where it was.
        """
        self.last_commit_at = now
        self.last_commit_ok = ok
        self.last_commit_error = error
        if not ok:
            self.commits_failed += 1
            self.commits_failed_in_a_row += 1
            return False
        self.commits_ok += 1
        self.commits_failed_in_a_row = 0
        if self.committed is None or offset > self.committed:
            self.committed = offset
            self.committed_moved_at = now
            return True
        return False

    @property
    def pending(self) -> bool:
        """True while something delivered (or passed over) is not yet committed."""
        end = self.consumed_end
        if end is None:
            return False
        return self.committed is None or self.committed < end

    # -- observers --------------------------------------------------------------

    def acked_ranges(self, limit: int = 256) -> list[Range]:
        """Acked (or never delivered) ranges above the committed offset.

        Derived from the in-flight offsets: the gaps between them inside
        ``[committed, consumed_end)``.  At most ``limit`` ranges, oldest first.
        """
        end = self.consumed_end
        if end is None:
            return []
        start = self.committed
        ranges: list[Range] = []
        for message in self.inflight():
            offset = message.offset
            if start is not None and offset > start:
                ranges.append(Range(start, offset))
                if len(ranges) >= limit:
                    return ranges
            start = offset + 1
        if start is not None and end > start:
            ranges.append(Range(start, end))
        return ranges[:limit]

    @property
    def lag(self) -> int | None:
        """Highwater minus the committed offset (or the delivered end before any commit)."""
        if self.highwater is None:
            return None
        base = self.committed if self.committed is not None else self.consumed_end
        if base is None:
            return None
        return max(0, self.highwater - base)
