"""Burrow's evaluation rules over kconsume's own window of samples (no broker)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from kconsume.groups.verdict import (
    GroupVerdict,
    Sample,
    Verdict,
    evaluate,
    group_verdict,
    rates,
)


def window(
    offsets: list[int | None], ends: list[int], *, owned: bool = True, start: int = 0
) -> list[Sample]:
    return [
        Sample(at=float(i), committed=o, log_start=start, log_end=e, owned=owned)
        for i, (o, e) in enumerate(zip(offsets, ends, strict=True))
    ]


def test_no_lag_now_is_ok_whatever_came_before() -> None:
    v = evaluate(window([5] * 9 + [20], [20] * 10, owned=False))
    assert v.verdict is Verdict.OK and v.reason == "lag 0"


def test_allowed_lag() -> None:
    v = evaluate(window([10] * 10, [13] * 10), allowed_lag=5)
    assert v.verdict is Verdict.OK and "within the allowed 5" in v.reason
    assert evaluate(window([10] * 10, [13] * 10)).verdict is Verdict.STALL


def test_stall_names_offset_samples_and_growth() -> None:
    v = evaluate(window([1204] * 10, [1300 + 433 * i for i in range(10)]))
    assert v.verdict is Verdict.STALL
    assert v.reason.startswith(
        "committed offset 1,204 unchanged over 10 samples while the log grew by 3,897"
    )


def test_unowned_unchanged_offset_with_lag_is_stop() -> None:
    v = evaluate(window([50] * 10, [100] * 10, owned=False))
    assert v.verdict is Verdict.STOP
    assert "no commit for 9.0 s" in v.reason and "committed offset 50" in v.reason


def test_stop_is_not_raised_when_the_log_end_was_at_the_commit_recently() -> None:
    # caught up at the start of the window (end 50 == committed 50), then the log grew
    v = evaluate(window([50] * 10, [50] + [60] * 9, owned=False))
    assert v.verdict is not Verdict.STOP


def test_stop_when_commits_stopped_in_the_first_half() -> None:
    offsets = [10, 20, 30, 40] + [40] * 6
    v = evaluate(window(offsets, [100 + i for i in range(10)], owned=False))
    assert v.verdict is Verdict.STOP  # last commit at t=3, now t=9: 6 > 3
    v = evaluate(window([10 * i for i in range(1, 7)] + [60] * 4, [100] * 10, owned=False))
    assert v.verdict is not Verdict.STOP  # last commit at t=5, now 9: 4 > 5 is false


def test_rewind_is_any_step_back_while_the_lag_was_never_zero() -> None:
    # nobody commits, so the rewind must be in the window's second half not to be STOP
    v = evaluate(window([15] * 6 + [3] * 4, [20] * 10, owned=False))
    assert v.verdict is Verdict.REWIND
    assert v.reason == "committed offset moved back from 15 to 3 (sample 7 of 10); lag 17"
    # as Burrow's code: any step back, even one the group made up for
    v = evaluate(window([10, 3, 5, 12, 12, 13, 14, 15, 16, 17], list(range(20, 30))))
    assert v.verdict is Verdict.REWIND


def test_a_rewind_after_the_group_had_caught_up_is_ok_as_in_burrow() -> None:
    # Burrow returns OK as soon as the lag was zero in the window, before REWIND
    v = evaluate(window([10] * 6 + [3] * 4, [10] * 10, owned=False))
    assert v.verdict is Verdict.OK and "it was 0 in the window" in v.reason


def test_stop_is_checked_before_rewind() -> None:
    v = evaluate(window([10, 3] + [3] * 8, [10] * 10, owned=False))
    assert v.verdict is Verdict.STOP  # Burrow's code order


def test_warn_when_offsets_move_but_lag_never_decreases() -> None:
    offsets = [100 + 10 * i for i in range(10)]
    ends = [200 + 30 * i for i in range(10)]
    v = evaluate(window(offsets, ends))
    assert v.verdict is Verdict.WARN
    assert "moved 100 → 190 but the lag never decreased over 10 samples: 100 → 280" in v.reason


def test_lag_zero_somewhere_in_the_window_is_ok() -> None:
    v = evaluate(window([10 * i for i in range(10)], [10 * i for i in range(9)] + [95]))
    assert v.verdict is Verdict.OK and "it was 0 in the window" in v.reason


def test_incomplete_window_is_ok_and_says_so() -> None:
    v = evaluate(window([5, 5, 5], [50, 60, 70]))
    assert v.verdict is Verdict.OK and not v.complete
    assert "3 of 10 samples" in v.reason


def test_no_committed_offset_is_not_evaluated() -> None:
    v = evaluate(window([None] * 10, [5] * 10))
    assert v.verdict is None and "no committed offset" in v.reason


def test_below_the_log_start_is_not_phantom_lag() -> None:
    s = Sample(0.0, committed=3, log_start=100, log_end=130)
    assert s.below_start and s.lag == 30
    assert Sample(0.0, committed=140, log_start=100, log_end=130).lag == 0


def test_group_verdict_maps_errors() -> None:
    assert group_verdict([Verdict.OK, None]) is GroupVerdict.OK
    assert group_verdict([Verdict.OK, Verdict.WARN]) is GroupVerdict.WARN
    for bad in (Verdict.STOP, Verdict.STALL, Verdict.REWIND):
        assert group_verdict([Verdict.WARN, bad, Verdict.OK]) is GroupVerdict.ERR


def test_rates_and_eta() -> None:
    r = rates(window([0, 100, 200, 300], [400, 450, 500, 550]))
    assert r.consume_rate == 100 and r.produce_rate == 50 and r.commit_rate == 1
    assert r.eta == 250 / 50 and r.eta_text == "5.0 s"
    grows = rates(window([0, 10, 20], [100, 200, 300]))
    assert grows.eta is None and grows.eta_text == "never"
    assert rates(window([5], [9])).eta_text == "unknown"
    assert rates(window([5, 9], [9, 9])).eta_text == "0 s"


offsets_st = st.lists(st.integers(0, 1000), min_size=10, max_size=10)


@given(offsets_st, st.lists(st.integers(0, 1000), min_size=10, max_size=10), st.booleans())
def test_verdict_properties(offsets: list[int], ends: list[int], owned: bool) -> None:
    samples = window(list(offsets), ends, owned=owned)
    v = evaluate(samples)
    lag = samples[-1].lag
    assert lag is not None
    if lag == 0:
        assert v.verdict is Verdict.OK
    if v.verdict is Verdict.STALL:
        assert len(set(offsets)) == 1 and all((s.lag or 0) > 0 for s in samples)
    if v.verdict is Verdict.WARN:
        lags = [s.lag or 0 for s in samples]
        assert lags == sorted(lags) and len(set(offsets)) > 1
    if v.verdict is Verdict.REWIND:
        assert any(b < a for a, b in itertools.pairwise(offsets))
    if owned:  # a live owner is never STOP
        assert v.verdict is not Verdict.STOP
    assert v.reason


@given(offsets_st)
def test_monotonic_offsets_never_rewind(offsets: list[int]) -> None:
    offsets = sorted(offsets)
    v = evaluate(window(offsets, [o + 5 for o in offsets]))
    assert v.verdict is not Verdict.REWIND
