"""The tail's domain (no Textual): buffer and filter, ribbon, rates, lines, holders."""

from __future__ import annotations

import ast
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kconsume.tail
from kconsume.consume import FilterSyntaxError
from kconsume.engine.offsets import Range
from kconsume.engine.snapshot import EngineSnapshot, PartitionSnapshot, StreamSnapshot
from kconsume.engine.types import TP, Event, Message
from kconsume.records.decoding import Undecodable
from kconsume.tail import Cell, RateMeter, TailBuffer, holders, ribbon_cells, ribbon_runs
from kconsume.tail.lines import find, format_age, message_line, pretty_value, short_text
from kconsume.tail.session import combine_where

TAIL = Path(kconsume.tail.__file__).parent


def event(offset: int, value: object = None, *, partition: int = 0, key: object = "k") -> Event:
    message = Message(TP("t", partition), offset, 1_768_478_400_000 + offset, b"k", b"v", [])
    return Event(message, key, {"n": offset} if value is None else value)


def test_the_tail_never_imports_textual() -> None:
    for path in TAIL.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                )
                for name in names:
                    assert (name or "").split(".")[0] != "textual", f"{path}: {name}"


# -- the buffer ------------------------------------------------------------------------


def test_buffer_is_bounded_and_counts_what_fell_off() -> None:
    buffer = TailBuffer(5)
    for i in range(12):
        buffer.add(event(i))
    assert [e.offset for e in buffer.view] == [7, 8, 9, 10, 11]
    assert buffer.received == 12
    assert buffer.evicted == 7


def test_filter_rebuilds_the_view_from_recent_messages_and_applies_to_new_ones() -> None:
    buffer = TailBuffer(100)
    for i in range(10):
        buffer.add(event(i))
    generation = buffer.generation
    buffer.set_filter("value['n'] % 2 == 0")
    assert buffer.generation == generation + 1
    assert [e.offset for e in buffer.view] == [0, 2, 4, 6, 8]
    buffer.add(event(10))
    buffer.add(event(11))
    assert [e.offset for e in buffer.view][-2:] == [8, 10]
    assert buffer.received == 12
    buffer.set_filter("")
    assert buffer.expression is None
    assert len(buffer.view) == 12


def test_a_bad_filter_changes_nothing() -> None:
    buffer = TailBuffer(10)
    buffer.add(event(1))
    buffer.set_filter("offset > 0")
    with pytest.raises(FilterSyntaxError, match=r"\^"):
        buffer.set_filter("value[")
    assert buffer.expression == "offset > 0"


def test_filter_errors_count_as_not_matching_and_are_reported() -> None:
    buffer = TailBuffer(10)
    seen: list[str] = []
    buffer.on_filter_error = lambda e, exc: seen.append(f"{e.offset}: {type(exc).__name__}")
    buffer.set_filter("value['total'] > 1")
    buffer.add(event(1, {"total": 5}))
    buffer.add(event(2, "not a dict"))
    assert [e.offset for e in buffer.view] == [1]
    assert buffer.filter_errors == 1
    assert seen == ["2: TypeError"]


def test_combined_where_expressions_are_anded() -> None:
    assert combine_where([]) is None
    assert combine_where(["a > 1"]) == "a > 1"
    assert combine_where(["a > 1", "b or c"]) == "(a > 1) and (b or c)"


# -- the ribbon ---------------------------------------------------------------------------


def partition(
    *,
    committed: int | None,
    delivered_end: int | None,
    highwater: int | None,
    acked: tuple[Range, ...] = (),
    inflight: int = 0,
    oldest: int | None = None,
    warned: bool = False,
) -> PartitionSnapshot:
    return PartitionSnapshot(
        tp=TP("t", 0),
        committed=committed,
        delivered_end=delivered_end,
        highwater=highwater,
        lag=None,
        inflight=inflight,
        oldest_inflight=oldest,
        oldest_inflight_age=None,
        acked_ranges=acked,
        last_commit_age=None,
        last_commit_ok=None,
        last_commit_error=None,
        commits_ok=0,
        commits_failed=0,
        stalled_for=None,
        livelock_warned=warned,
        paused=False,
    )


def test_ribbon_one_cell_per_offset() -> None:
    # committed 0; offsets 0-1 acked, 2 in flight, 3-5 acked, 6-7 in flight; 8-9 undelivered
    p = partition(
        committed=0,
        delivered_end=8,
        highwater=10,
        acked=(Range(0, 2), Range(3, 6)),
        inflight=3,
        oldest=2,
    )
    cells = ribbon_cells(p, 10)
    a, i, u = Cell.ACKED, Cell.INFLIGHT, Cell.UNDELIVERED
    assert cells == [a, a, i, a, a, a, i, i, u, u]


def test_ribbon_marks_the_blocking_offset_when_warned() -> None:
    p = partition(
        committed=100, delivered_end=104, highwater=104, acked=(Range(101, 104),), inflight=1,
        oldest=100, warned=True,
    )  # fmt: skip
    assert ribbon_cells(p, 4) == [Cell.BLOCKER, Cell.ACKED, Cell.ACKED, Cell.ACKED]


def test_ribbon_caught_up_and_unknown() -> None:
    assert set(ribbon_cells(partition(committed=5, delivered_end=5, highwater=5), 7)) == {
        Cell.CAUGHT_UP
    }
    assert set(ribbon_cells(partition(committed=None, delivered_end=None, highwater=None), 3)) == {
        Cell.UNKNOWN
    }


def test_a_large_lag_never_hides_the_window() -> None:
    p = partition(committed=0, delivered_end=10, highwater=1_000_000, inflight=10, oldest=0)
    cells = ribbon_cells(p, 30)
    assert cells[:10] == [Cell.INFLIGHT] * 10  # a cell per offset of the small window
    assert cells[10:] == [Cell.UNDELIVERED] * 20


@given(
    committed=st.integers(0, 1000),
    window=st.integers(0, 5000),
    tail=st.integers(0, 5000),
    stuck=st.lists(st.integers(0, 4999), max_size=20),
    width=st.integers(1, 200),
)
def test_ribbon_properties(
    committed: int, window: int, tail: int, stuck: list[int], width: int
) -> None:
    """Always ``width`` cells; an in-flight offset is never drawn as acked."""
    delivered = committed + window
    inflight = sorted({committed + s for s in stuck if s < window})
    acked, start = [], committed
    for offset in inflight:
        if offset > start:
            acked.append(Range(start, offset))
        start = offset + 1
    if delivered > start:
        acked.append(Range(start, delivered))
    p = partition(
        committed=committed,
        delivered_end=delivered,
        highwater=delivered + tail,
        acked=tuple(acked),
        inflight=len(inflight),
        oldest=inflight[0] if inflight else None,
    )
    cells = ribbon_cells(p, width)
    assert len(cells) == width
    if inflight and window:
        assert Cell.INFLIGHT in cells
    if not inflight:
        assert Cell.INFLIGHT not in cells
    assert sum(n for _, n in ribbon_runs(cells)) == width


# -- rates, lines, holders ------------------------------------------------------------------


def test_rate_meter() -> None:
    meter = RateMeter(window=1.0, every=1.0)
    for i in range(31):
        meter.add(i * 0.1, i * 10)  # 100 per second
    assert meter.rate == pytest.approx(100.0)
    assert list(meter.history) == pytest.approx([100.0, 100.0, 100.0])
    meter.add(3.1, 5)  # a new engine: the counter restarted
    assert meter.rate == 0.0


def test_lines() -> None:
    e = event(7, {"total": 12, "note": "a\nb"})
    line = message_line(e, UTC)
    assert line.time == "12:00:00.007"
    assert line.where == "t[0]@7"
    assert line.value == '{"total":12,"note":"a\\nb"}'
    assert short_text(Undecodable(b"\xffab", "not json")) == "base64:/2Fi"  # as consume writes it
    assert short_text(b"\xff\x00") == "base64:/wA="
    assert short_text(None, key=True, stored=None) == "(no key)"
    assert short_text(None, stored=None) == "(tombstone)"
    assert short_text(None, stored=b"null") == "null"  # the JSON null, not a tombstone
    assert short_text("x" * 500, 10) == "x" * 10 + "…"
    assert pretty_value({"a": 1}) == ('{\n  "a": 1\n}', "json")
    assert pretty_value(b"\x00")[1] == "text"
    assert format_age(None) == "-"
    assert format_age(4.25) == "4.2s"
    assert format_age(125) == "2m05s"
    assert format_age(7300) == "2h01m"


def test_find_is_case_insensitive_in_both_directions() -> None:
    events = [event(i, {"who": "Alice" if i % 3 == 0 else "bob"}) for i in range(10)]
    assert find(events, "alice", 4) == 6
    assert find(events, "ALICE", 4, backwards=True) == 3
    assert find(events, "carol", 0) is None


def test_holders_are_the_streams_holding_an_offset_or_later() -> None:
    def stream(name: str, held: dict[TP, int]) -> StreamSnapshot:
        return StreamSnapshot(
            name=name, topics=("t",), key_codec="raw", value_codec="raw", buffer_depth=0,
            buffer_maxsize=10, paused=False, processed=0, decode_errors=0, prefiltered=0,
            current=None, current_offset=None, current_for=None, held=len(held),
            held_offsets=held,
        )  # fmt: skip

    snapshot = EngineSnapshot(
        at=0.0, group_id="g", generation=1, member_id="m", rebalancing=False, delivered_total=0,
        partitions=(), streams=(stream("slow", {TP("t", 0): 5}), stream("fast", {})),
    )  # fmt: skip
    m = event(7).message
    m.refcount = 1
    assert holders(snapshot, m) == ("slow",)
    assert holders(snapshot, event(4).message) == ()  # refcount 0: nobody


def test_the_buffer_keeps_raw_events_and_decodes_what_is_looked_at() -> None:
    from kconsume.records.decoding import output_codec
    from kconsume.tail.buffer import decoder

    decode = decoder(output_codec("str"), output_codec("json"))
    message = Message(TP("t", 0), 1, 0, b"k1", b'{"total": 7}', [])
    raw = Event(message, message.key, message.value)
    buffer = TailBuffer(10, decode)
    buffer.set_filter("value['total'] == 7 and key == 'k1'")
    buffer.add(raw)
    assert buffer.view[0] is raw  # stored as it came
    assert decode(raw) == (message, "k1", {"total": 7})
    transformed = Event(message, "k1", "a script's value")
    assert decode(transformed) is transformed  # decoded already: left alone


def test_log_records_become_notices_without_duplicating_engine_events() -> None:
    import logging

    from kconsume.tail import capture_logs

    seen: list[tuple[str, str]] = []
    with capture_logs(lambda text, level: seen.append((level, text))):
        logging.getLogger("kconsume.engine.consumer").warning("commit failed")  # an event too
        logging.getLogger("aiokafka").error("Unable connect to %s", "x:1")
        logging.getLogger("aiokafka").error("Unable connect to %s", "x:1")  # a repeat: quiet
        logging.getLogger("kconsume.engine.app").error("agent billing failed")
    assert seen == [
        ("error", "aiokafka: Unable connect to x:1"),
        ("error", "kconsume.engine.app: agent billing failed"),
    ]


def test_unknown_event_types_get_a_label_and_level_from_their_name() -> None:
    from kconsume.tui.widgets.events import _by_name

    assert _by_name("WatchdogWarning") == ("watchdog", "warning")
    assert _by_name("WatchdogCleared") == ("watchdog", "success")
    assert _by_name("StreamStalled") == ("stream", "warning")
    assert _by_name("Something") == ("something", "info")
