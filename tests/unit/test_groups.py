"""peek and commit without a broker: parsing, the commit plan, the peek window, output."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest

from kconsume.engine.types import TP
from kconsume.groups import CommitTo, PeekedPartition, PeekWriter, Selection, plan, render, select
from kconsume.groups.commit import PartitionPlan

T = "orders"


@dataclass(frozen=True)
class Rec:
    offset: int
    timestamp: int = 1_700_000_000_000
    key: bytes | None = b"k"
    value: bytes | None = b'{"n": 1}'
    headers: tuple[tuple[str, bytes], ...] = ()


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("orders", Selection("orders")),
        ("orders:2", Selection("orders", (2,))),
        ("orders:2,0,2", Selection("orders", (0, 2))),
        ("my.topic-1_x: 1 , 3", Selection("my.topic-1_x", (1, 3))),
    ],
)
def test_selection_parses(spec: str, expected: Selection) -> None:
    assert Selection.parse(spec) == expected


@pytest.mark.parametrize("spec", ["", ":1", "orders:", "orders:x", "orders:1,", "orders:-1"])
def test_bad_selection(spec: str) -> None:
    with pytest.raises(ValueError, match="TOPIC"):
        Selection.parse(spec)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("42", CommitTo("offset", 42)),
        ("+5", CommitTo("shift", 5)),
        ("-5", CommitTo("shift", -5)),
        ("+0", CommitTo("shift", 0)),
        ("beginning", CommitTo("beginning")),
        ("earliest", CommitTo("beginning")),
        ("END", CommitTo("end")),
        ("latest", CommitTo("end")),
        ("@1700000000000", CommitTo("time", 1_700_000_000_000)),
        ("@2023-11-14T22:13:20Z", CommitTo("time", 1_700_000_000_000)),
    ],
)
def test_commit_to_parses(spec: str, expected: CommitTo) -> None:
    assert CommitTo.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [("stored", "bad --to"), ("", "bad --to"), ("+", "bad --to"), ("1.5", "bad --to"),
     ("@noon", "not a time"), ("5-", "bad --to")],
)  # fmt: skip
def test_bad_commit_to(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CommitTo.parse(spec)


# -- the commit plan ------------------------------------------------------------------

BOUNDS = {TP(T, 0): (0, 10), TP(T, 1): (5, 20), TP(T, 2): (0, 0)}
COMMITTED: dict[TP, int | None] = {TP(T, 0): 4, TP(T, 1): 6, TP(T, 2): None}


def new_offsets(plans: list[PartitionPlan]) -> dict[int, tuple[int | None, str]]:
    return {p.tp.partition: (p.new, p.note) for p in plans}


def test_plan_absolute_clamps_to_the_log() -> None:
    assert new_offsets(plan(CommitTo("offset", 12), BOUNDS, COMMITTED)) == {
        0: (10, "clamped to the log end (wanted 12)"),
        1: (12, ""),
        2: (0, "clamped to the log end (wanted 12)"),
    }
    assert new_offsets(plan(CommitTo("offset", 2), BOUNDS, COMMITTED))[1] == (
        5,
        "clamped to the log start (wanted 2)",
    )


def test_plan_shift_leaves_partitions_without_an_offset_alone() -> None:
    plans = plan(CommitTo("shift", -3), BOUNDS, COMMITTED)
    assert new_offsets(plans) == {
        0: (1, ""),
        1: (5, "clamped to the log start (wanted 3)"),
        2: (None, "no committed offset to shift from"),
    }
    assert [p.delta for p in plans] == [-3, -1, None]


def test_plan_beginning_end_and_time() -> None:
    assert new_offsets(plan(CommitTo("beginning"), BOUNDS, COMMITTED)) == {
        0: (0, ""), 1: (5, ""), 2: (0, ""),
    }  # fmt: skip
    assert new_offsets(plan(CommitTo("end"), BOUNDS, COMMITTED)) == {
        0: (10, ""), 1: (20, ""), 2: (0, ""),
    }  # fmt: skip
    at_time = {TP(T, 0): (7, True), TP(T, 1): (20, False), TP(T, 2): (0, False)}
    assert new_offsets(plan(CommitTo("time", 1), BOUNDS, COMMITTED, at_time)) == {
        0: (7, ""),
        1: (20, "no record at or after the time: the log end"),
        2: (0, "no record at or after the time: the log end"),
    }
    with pytest.raises(ValueError, match="at_time"):
        plan(CommitTo("time", 1), BOUNDS, COMMITTED)


def test_render_aligns_and_shows_missing_values_as_dashes() -> None:
    text = render(plan(CommitTo("shift", 2), BOUNDS, COMMITTED))
    assert text.splitlines() == [
        "PARTITION  LOG START  LOG END  COMMITTED  NEW  DELTA  NOTE",
        "        0          0       10          4    6     +2",
        "        1          5       20          6    8     +2",
        "        2          0        0          -    -      -  no committed offset to shift from",
    ]
    assert render([]).splitlines() == ["PARTITION  LOG START  LOG END  COMMITTED  NEW  DELTA  NOTE"]


# -- the peek window ---------------------------------------------------------------


def offsets(window: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(mark, r.offset) for mark, r in window]


def test_select_marks_around_the_committed_offset() -> None:
    records = [Rec(o) for o in range(10)]
    assert offsets(select(records, 4, 2, 3)) == [
        ("before", 2), ("before", 3), ("next", 4), ("after", 5), ("after", 6), ("after", 7),
    ]  # fmt: skip
    assert offsets(select(records, 4, 0, 0)) == [("next", 4)]
    assert offsets(select(records, 0, 2, 1)) == [("next", 0), ("after", 1)]
    assert offsets(select(records, 10, 2, 3)) == [("before", 8), ("before", 9)]


def test_select_after_compaction_the_next_record_is_the_next_that_exists() -> None:
    records = [Rec(o) for o in (1, 2, 6, 9, 12)]
    assert offsets(select(records, 4, 1, 1)) == [("before", 2), ("next", 6), ("after", 9)]


def test_peeked_partition_notes() -> None:
    assert PeekedPartition(TP(T, 0), 4, 0, 10).note() is None
    assert "log end" in (PeekedPartition(TP(T, 0), 10, 0, 10).note() or "")
    assert "before the log start" in (PeekedPartition(TP(T, 0), 2, 5, 10).note() or "")
    assert "past the log end" in (PeekedPartition(TP(T, 0), 12, 5, 10).note() or "")


# -- peek output ------------------------------------------------------------------------


def peeked() -> PeekedPartition:
    return PeekedPartition(
        TP(T, 1), 4, 0, 10,
        [("before", Rec(3)), ("next", Rec(4, key=None)), ("after", Rec(5, value=b"\xff"))],
    )  # fmt: skip


def test_jsonl_adds_the_peek_field_to_consume_lines() -> None:
    out = PeekWriter("billing", "jsonl").partition(peeked())
    docs = [orjson.loads(line) for line in out.splitlines()]
    assert [(d["offset"], d["peek"]) for d in docs] == [(3, "before"), (4, "next"), (5, "after")]
    assert docs[0]["value"] == {"n": 1} and docs[1]["key"] is None
    assert docs[2]["value_encoding"] == "base64"


def test_pretty_marks_the_next_record_and_a_caught_up_group() -> None:
    text = PeekWriter("billing", "pretty").partition(peeked()).decode()
    lines = text.splitlines()
    assert lines[0] == f"── {T}[1]  group billing  committed 4  log 0..10 ──"
    marker = lines.index("▶ next for billing (committed offset 4)")
    assert lines[marker + 1].startswith(f"{T}[1] @4")
    caught_up = PeekedPartition(TP(T, 1), 10, 0, 10, [("before", Rec(9))])
    text = PeekWriter("billing", "pretty").partition(caught_up).decode()
    assert text.splitlines()[-1] == "▶ committed offset 10: nothing to read yet (log end 10)"
    coloured = PeekWriter("billing", "pretty", color=True).partition(peeked()).decode()
    assert "\x1b[1;32m▶ next for billing" in coloured


def test_templates_may_use_peek_and_raw_is_unmarked() -> None:
    out = PeekWriter("g", "{peek}:{offset}", value_format="str").partition(peeked())
    assert out.decode().splitlines() == ["before:3", "next:4", "after:5"]
    assert PeekWriter("g", "raw").partition(peeked()) == b'{"n": 1}\n{"n": 1}\n\xff\n'
    with pytest.raises(ValueError, match="unknown field nope"):
        PeekWriter("g", "{peek} {nope}")
    with pytest.raises(ValueError, match="unknown format"):
        PeekWriter("g", "xml")
