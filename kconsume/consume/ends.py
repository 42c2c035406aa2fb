"""When a partition has been read to its end (``consume -e`` and ``--until``).

A partition is *done* when everything below its end has been delivered to the
stream and processed (written or filtered), whatever the fetch position says:

* its **end** is the larger of ListOffsets(latest) and the end the consumer's own
  fetch reported (the highwater, or the last stable offset under read_committed).
  Some brokers answer ListOffsets short of the end (Tansu: the last batch's base
  offset + 1); every broker's fetch gets it right.  Until both are known the
  partition is never done.
* its engine **position** (``PartitionState.position``: every offset below it was
  delivered or held no data record) has reached the end, so trailing transaction
  markers and compacted offsets count as read;
* and no message below the end is still in flight: each was acked, which for
  ``consume`` means its loop body ran (and, in a group, its line was flushed).

The Kafka client's live position is never used: it runs ahead of what the streams
have seen (records wait in buffers, or are given back when a buffer fills).  The
engine's ``position`` is the client's, sampled right after a fetch and applied only
once that fetch's records were delivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..engine.offsets import PartitionState
from ..engine.types import TP

__all__ = ["PartitionEnds"]


class PartitionEnds:
    """The end of each partition read with ``-e``, and whether it has been reached.

    Owned by the consume run; :meth:`add_listed` takes ListOffsets answers, the
    per-partition state comes from the engine's ``Consumer.partition_states()``.
    """

    def __init__(self, states: Mapping[TP, PartitionState]) -> None:
        self._states = states
        #: ListOffsets(latest) answers, a lower bound of the end.
        self._listed: dict[TP, int] = {}
        #: Ends fixed once both sources are known; later records are past the end.
        self._ends: dict[TP, int] = {}

    def unlisted(self, tps: Iterable[TP]) -> list[TP]:
        """Partitions of ``tps`` that have no ListOffsets answer yet."""
        return [tp for tp in tps if tp not in self._listed]

    def add_listed(self, listed: Mapping[TP, int]) -> None:
        """Take ListOffsets(latest) answers.  Caller: the run, once per new partition."""
        for tp, offset in listed.items():
            self._listed.setdefault(tp, offset)

    def end(self, tp: TP) -> int | None:
        """The partition's end, once both sources are known (then fixed)."""
        end = self._ends.get(tp)
        if end is not None:
            return end
        listed = self._listed.get(tp)
        state = self._states.get(tp)
        if listed is None or state is None or state.fetch_end is None:
            return None
        end = self._ends[tp] = max(listed, state.fetch_end)
        return end

    def done(self, tp: TP) -> bool:
        """True once everything below the end was delivered and processed."""
        end = self.end(tp)
        state = self._states.get(tp)
        if end is None or state is None:
            return False
        position = state.position
        if position is None or position < end:
            return False
        oldest = state.oldest_inflight
        return oldest is None or oldest.offset >= end
