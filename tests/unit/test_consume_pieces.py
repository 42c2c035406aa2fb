"""The pieces of ``consume`` that need no broker: formats, decoding, filters."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from kconsume.engine import TP, Event, Message, StartAt
from kconsume.engine.positions import parse_time_ms
from kconsume.records.decoding import Undecodable, output_codec
from kconsume.records.filters import (
    FilterSyntaxError,
    compile_where,
    load_script,
    make_prefilter,
)
from kconsume.records.output import make_formatter
from kconsume.records.record import ConsumedRecord


def event(key: object, value: object, headers: tuple = (), raw: bytes | None = b"") -> Event:  # type: ignore[type-arg]
    message = Message(TP("t", 1), 7, 1_700_000_000_123, b"k", raw, headers)
    return Event(message, key, value)


@pytest.mark.parametrize(
    ("fmt", "data", "expected"),
    [
        ("auto", b'{"a": 1}', {"a": 1}),
        ("auto", b"hello", "hello"),
        ("auto", b"\xff\x00", b"\xff\x00"),
        ("json", b"[1, 2]", [1, 2]),
        ("str", b"caf\xc3\xa9", "café"),
        ("int", b"42", 42),
        ("int", b"\x00\x00\x00\x05", 5),
        ("raw", b"\x01", b"\x01"),
    ],
)
def test_formats_decode(fmt: str, data: bytes, expected: object) -> None:
    assert output_codec(fmt).decode(data) == expected


def test_undecodable_keeps_the_bytes_and_the_reason() -> None:
    value = output_codec("json").decode(b"{nope")
    assert isinstance(value, Undecodable) and value.data == b"{nope"
    assert value.error.startswith("not json")
    assert output_codec("json").decode(None) is None  # tombstones stay None


def test_jsonl_flags_base64_and_errors() -> None:
    line = make_formatter("jsonl")(
        event(b"\xff", Undecodable(b"\x80", "not json: x"), (("h", b"\xfe"), ("h", b"ok"))),
        Undecodable(b"\x80", "not json: x"),
    )
    doc = orjson.loads(line)
    assert line.endswith(b"\n")
    assert doc["key"] == base64.b64encode(b"\xff").decode() and doc["key_encoding"] == "base64"
    assert doc["value_encoding"] == "base64" and doc["value_error"] == "not json: x"
    assert doc["headers"] == {"h": [{"base64": "/g=="}, "ok"]}  # repeated names: a list


def test_template_fields_and_escapes() -> None:
    fmt = make_formatter("{topic}/{partition}@{offset}\\t{key} {value} {headers}")
    assert fmt(event("k", {"a": 1}, (("x", b"1"),)), {"a": 1}) == b't/1@7\tk {"a":1} {"x":"1"}\n'
    with pytest.raises(ValueError, match="unknown field nope"):
        make_formatter("{nope}")
    with pytest.raises(ValueError, match="bad template"):
        make_formatter("{partition")


def test_raw_writes_bytes_as_they_are() -> None:
    fmt = make_formatter("raw")
    binary = event(None, b"\x00\xff", raw=b"\x00\xff")
    assert fmt(binary, binary.value) == b"\x00\xff\n"
    stored = event(None, {"a": 1}, raw=b'{ "a": 1 }')
    assert fmt(stored, stored.value) == b'{ "a": 1 }\n'  # as stored, not re-serialised
    assert fmt(stored, {"a": 2}) == b'{"a":2}\n'  # what a --script transform returned
    tombstone = event(None, None, raw=None)
    assert fmt(tombstone, None) == b""  # no bytes: nothing written


def test_pretty_shows_local_time_and_colour_only_when_asked() -> None:
    plain = make_formatter("pretty", color=False)(event("k", {"a": 1}), {"a": 1}).decode()
    assert "t[1] @7" in plain and '"a": 1' in plain and "\x1b[" not in plain
    assert ".123" in plain  # milliseconds of the timestamp
    coloured = make_formatter("pretty", color=True)(event("k", "v"), "v").decode()
    assert "\x1b[" in coloured


def test_where_syntax_error_has_a_caret_under_the_position() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_where(["value['x'] =="])
    text = str(info.value)
    line, caret = text.splitlines()[-2:]
    assert line.strip() == "value['x'] =="
    assert caret.index("^") >= line.index("==")


def test_where_sees_decoded_fields_and_anded() -> None:
    where = compile_where(["value['n'] > 1", "headers['h'] == 'yes'", "re.match('k', key)"])
    assert where is not None
    keep = ConsumedRecord.from_event(event("key", {"n": 2}, (("h", b"yes"),)))
    drop = ConsumedRecord.from_event(event("key", {"n": 0}, (("h", b"yes"),)))
    assert where(keep) and not where(drop)


class Untouchable(tuple):  # type: ignore[type-arg]
    """Headers that fail if anything reads them."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the headers were read")


def test_where_computes_only_the_names_it_reads() -> None:
    where = compile_where(["partition == 0", "offset >= 7  # a trailing comment"])
    assert where is not None and where.names == ("partition", "offset")
    message = Message(TP("t", 0), 7, 0, None, b"{}", Untouchable())
    assert where.matches(Event(message, None, object()))  # no header dict, no record built
    assert not where.matches(Event(Message(TP("t", 1), 7, 0, None, None), None, None))
    assert not where.reads_value
    assert compile_where(["value['n'] > 1"]).reads_value  # type: ignore[union-attr]
    assert compile_where(["msg.offset > 1"]).reads_value  # type: ignore[union-attr]


def test_where_names_are_seen_inside_comprehensions() -> None:
    """The names are a function's locals: a generator or comprehension can read them
    (with eval() and a locals dict, they could not)."""
    where = compile_where(["any(v > value['n'] for v in (1, 5))"])
    assert where is not None
    assert where.matches(event("k", {"n": 2}))
    assert not where.matches(event("k", {"n": 9}))
    assert where(ConsumedRecord.from_event(event("k", {"n": 2})))


def test_prefilter_on_raw_headers_and_bytes() -> None:
    prefilter = make_prefilter(["region=eu"], [r"b[a]d"])
    assert prefilter is not None
    match = Message(TP("t", 0), 0, 0, None, b"a bad day", (("region", b"eu"),))
    other = Message(TP("t", 0), 0, 0, None, b"a bad day", (("region", b"us"),))
    assert prefilter(match) and not prefilter(other)
    with pytest.raises(FilterSyntaxError, match="NAME=VALUE"):
        make_prefilter(["region"], [])


def test_script_loading(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("async def keep(msg):\n    return True\n")
    script = load_script(good)
    assert script.keep is not None and script.keep_is_async and script.transform is None
    with pytest.raises(FilterSyntaxError, match="cannot read"):
        load_script(tmp_path / "missing.py")
    failing = tmp_path / "failing.py"
    failing.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(FilterSyntaxError, match="boom"):
        load_script(failing)


@pytest.mark.parametrize(
    ("spec", "kind", "value"),
    [
        ("beginning", "beginning", 0),
        ("earliest", "beginning", 0),
        ("end", "end", 0),
        ("stored", "stored", 0),
        ("42", "offset", 42),
        ("-10", "from_end", 10),
        ("@1700000000000", "time", 1_700_000_000_000),
        ("@2023-11-14T22:13:20Z", "time", 1_700_000_000_000),
    ],
)
def test_start_positions_parse(spec: str, kind: str, value: int) -> None:
    start = StartAt.parse(spec)
    assert (start.kind, start.value) == (kind, value)


@pytest.mark.parametrize("spec", ["yesterday", "-", "1.5", "@soon"])
def test_bad_start_positions(spec: str) -> None:
    with pytest.raises(ValueError):
        StartAt.parse(spec)


@pytest.mark.parametrize(
    ("spec", "at_time", "offset"),
    [
        ("beginning", None, 10),
        ("end", None, 20),
        ("stored", None, 20),  # no committed offset: the end
        ("15", None, 15),
        ("3", None, 10),  # below the log start: its start
        ("99", None, 20),  # past the end: the end
        ("-4", None, 16),
        ("-40", None, 10),
        ("@1", 12, 12),
        ("@1", None, 20),  # nothing at or after the time: the end
    ],
)
def test_a_start_position_means_one_offset_of_the_log(
    spec: str, at_time: int | None, offset: int
) -> None:
    assert StartAt.parse(spec).offset_between(10, 20, at_time) == offset


def test_naive_times_are_local() -> None:
    assert parse_time_ms("2023-11-14T22:13:20+00:00") == 1_700_000_000_000
    assert isinstance(parse_time_ms("2023-11-14T22:13:20"), int)


# -- -e: when a partition is read to its end ---------------------------------------------


def test_partition_end_takes_the_larger_source_and_waits_for_both() -> None:
    from kconsume.consume.ends import PartitionEnds
    from kconsume.engine import TP
    from kconsume.engine.offsets import PartitionState
    from kconsume.engine.types import Message

    tp = TP("t", 0)
    state = PartitionState(tp, None, 0.0)
    ends = PartitionEnds({tp: state})
    assert ends.unlisted([tp]) == [tp]
    ends.add_listed({tp: 3})  # ListOffsets short of the end (Tansu: last batch base + 1)
    assert ends.end(tp) is None and not ends.done(tp)  # no fetch has confirmed it
    state.fetch_end = 10
    assert ends.end(tp) == 10
    state.fetch_end = 20  # a producer still writing: the end stays where it was found
    assert ends.end(tp) == 10
    message = Message(tp, 9, 0, None, None, ())
    state.track(message)
    state.fetched_to(11)  # the fetch passed the end (record 10 waits in a buffer)
    assert not ends.done(tp)  # offset 9 is delivered but not processed yet
    state.ack(message)
    assert ends.done(tp)


def test_partition_is_not_done_before_its_position_reaches_the_end() -> None:
    from kconsume.consume.ends import PartitionEnds
    from kconsume.engine import TP
    from kconsume.engine.offsets import PartitionState

    tp = TP("t", 0)
    state = PartitionState(tp, None, 0.0)
    ends = PartitionEnds({tp: state})
    ends.add_listed({tp: 5})
    state.fetch_end = 5
    state.delivered_end = 4  # the last record was delivered, its commit marker not passed
    assert not ends.done(tp)
    state.fetched_to(5)
    assert ends.done(tp)
