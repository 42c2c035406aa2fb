"""PartitionState: the ack and commit rules, without a broker."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from kconsume.engine.offsets import PartitionState, Range
from kconsume.engine.types import TP, Message

TP0 = TP("t", 0)


def message(state: PartitionState, offset: int) -> Message:
    return Message(TP0, offset, 0, None, b"", ())


def ack(state: PartitionState, offset: int) -> bool:
    """Ack the in-flight message at ``offset``, as a stream would."""
    message = state.find(offset)
    assert message is not None, f"offset {offset} is not in flight"
    return state.ack(message)


def deliver(state: PartitionState, offsets: list[int]) -> list[Message]:
    out = []
    for offset in offsets:
        m = message(state, offset)
        assert state.track(m)
        out.append(m)
    return out


def test_nothing_delivered_nothing_committable() -> None:
    state = PartitionState(TP0, None, 0.0)
    assert state.committable() is None
    assert state.acked_ranges() == []
    assert not state.pending


def test_committable_is_oldest_inflight_offset() -> None:
    state = PartitionState(TP0, 10, 0.0)
    deliver(state, [10, 11, 12, 13])
    ack(state, 11)
    ack(state, 12)
    assert state.committable() is None  # 10 still in flight: the commit stays at 10
    ack(state, 10)
    assert state.committable() == 13  # next offset to consume, not last processed
    ack(state, 13)
    assert state.committable() == 14


def test_holes_never_block_a_commit() -> None:
    state = PartitionState(TP0, 0, 0.0)
    deliver(state, [0, 5, 9])  # 1-4 and 6-8 compacted away or transaction markers
    for offset in (0, 5, 9):
        ack(state, offset)
    assert state.committable() == 10


def test_head_hole_then_inflight_message_is_not_jumped() -> None:
    """faust-streaming#606: committed=2585 with 2585 in flight and 2586.. acked must not move."""
    state = PartitionState(TP0, 2585, 0.0)
    deliver(state, [2585, 2586, 2587, 2588, 2589])
    for offset in (2586, 2587, 2588, 2589):
        ack(state, offset)
    assert state.committable() is None
    assert state.oldest_inflight is not None and state.oldest_inflight.offset == 2585


def test_redelivery_below_delivered_end_is_refused() -> None:
    state = PartitionState(TP0, 0, 0.0)
    deliver(state, [0, 1])
    assert not state.track(message(state, 1))
    assert [m.offset for m in state.inflight()] == [0, 1]


def test_failed_commit_leaves_committed_unchanged() -> None:
    state = PartitionState(TP0, 3, 0.0)
    assert not state.on_commit_result(7, ok=False, now=1.0, error="boom")
    assert state.committed == 3
    assert state.commits_failed == 1 and state.last_commit_error == "boom"
    assert state.on_commit_result(7, ok=True, now=2.0)
    assert state.committed == 7 and state.committed_moved_at == 2.0


def test_commits_never_move_backwards() -> None:
    state = PartitionState(TP0, 10, 0.0)
    assert not state.on_commit_result(5, ok=True, now=1.0)
    assert state.committed == 10


def test_acked_ranges_are_the_gaps_between_inflight_offsets() -> None:
    state = PartitionState(TP0, 100, 0.0)
    deliver(state, list(range(100, 110)))
    for offset in (100, 101, 104, 105, 106, 109):
        ack(state, offset)
    assert state.acked_ranges() == [Range(100, 102), Range(104, 107), Range(109, 110)]


def test_one_stuck_message_keeps_memory_bounded() -> None:
    state = PartitionState(TP0, 0, 0.0)
    deliver(state, [0])
    size_before = sys.getsizeof(state.slices)
    for offset in range(1, 200_001):
        m = message(state, offset)
        state.track(m)
        state.ack(m)
    assert len(state.slices) == 1 and state.inflight_count == 1
    assert sys.getsizeof(state.slices) <= max(size_before, 1024)
    assert state.acked_ranges() == [Range(1, 200_001)]
    assert state.committable() is None


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[int], list[tuple[str, int]]]:
    """A start offset, delivered offsets with random holes, and a random interleaving of
    acks (in any order) and commits."""
    start = draw(st.integers(0, 1_000))
    gaps = draw(st.lists(st.integers(0, 3), min_size=1, max_size=60))
    offsets, offset = [], start
    for gap in gaps:
        offset += gap
        offsets.append(offset)
        offset += 1
    ack_order = draw(st.permutations(offsets))
    steps: list[tuple[str, int]] = []
    for ack in ack_order:
        steps.append(("ack", ack))
        if draw(st.booleans()):
            steps.append(("commit", 0))
    return start, offsets, steps


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_commit_rules_hold_for_any_ack_order(
    scenario: tuple[int, list[int], list[tuple[str, int]]],
) -> None:
    start, offsets, steps = scenario
    state = PartitionState(TP0, start, 0.0)
    deliver(state, offsets)
    unacked = set(offsets)
    last_committed = start
    for action, offset in steps:
        if action == "ack":
            assert ack(state, offset)
            unacked.discard(offset)
            continue
        target = state.committable()
        if target is not None:
            state.on_commit_result(target, ok=True, now=1.0)
        committed = state.committed
        assert committed is not None
        # never past an unacked delivered message, never backwards
        assert all(committed <= o for o in unacked)
        assert committed >= last_committed
        last_committed = committed
    target = state.committable()
    if target is not None:
        state.on_commit_result(target, ok=True, now=2.0)
    assert state.committed == offsets[-1] + 1  # everything acked: the commit reaches the end
    assert state.slices == {} and state.inflight_count == 0
