"""Fuzzing what a topic holds: random key, value and header bytes through every codec and
every output format, with the real decoding and formatting code.

Each record is written (jsonl, pretty, raw, a template) with its bytes recoverable from
the jsonl line, or its decode error counted; never an exception other than the
ValueError the runner counts as an output error, and for these payloads not even that.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kconsume.engine.types import TP, Event, Message
from kconsume.records.decoding import FORMATS, Undecodable, output_codec
from kconsume.records.filters import compile_where
from kconsume.records.output import local_time, make_formatter
from kconsume.records.record import ConsumedRecord, plain

#: The formats that need no schema source (avro and protobuf need one: test_schemas.py).
FORMATS = tuple(f for f in FORMATS if f not in ("avro", "protobuf"))

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_JSONISH = st.sampled_from(
    [b'{"order": 1}', b"[1, 2]", b"42", b"-0", b"1e400", b'"\\ud800"', b"123456789012345678901234",
     b"null", b"true", b'"text"', b"\x00\x00\x00\x07", b"\x7f", b"\xff" * 8, b"", b" 12 ",
     b"1_000", b"[" * 2000, "é".encode(), b"\xc3"]
)  # fmt: skip
PAYLOAD = st.one_of(
    st.none(), st.binary(max_size=40), _JSONISH, st.text(max_size=20).map(str.encode)
)
#: Header names are UTF-8 on the wire (clients refuse others), so text without surrogates.
HEADER_NAME = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
HEADERS = st.lists(
    st.tuples(st.one_of(HEADER_NAME, st.sampled_from(["trace", "trace"])), PAYLOAD), max_size=4
).map(tuple)
TIMESTAMP = st.one_of(st.integers(-1, 2**63 - 1), st.just(1795791249599))
TEMPLATE = "{time} {topic}[{partition}]@{offset} {timestamp} {key!r}\\t{value:>3} {headers}"


def _event(
    key_format: str,
    value_format: str,
    key: bytes | None,
    value: bytes | None,
    headers: tuple[tuple[str, bytes | None], ...],
    timestamp: int,
) -> Event:
    message = Message(TP("orders", 3), 1042, timestamp, key, value, headers)
    return Event(
        message, output_codec(key_format).decode(key), output_codec(value_format).decode(value)
    )


def _recovered(doc: dict[str, Any], field: str) -> Any:
    """What a jsonl reader gets back for ``field``: the bytes when they were flagged."""
    if doc.get(f"{field}_encoding") == "base64":
        return base64.b64decode(doc[field])
    if f"{field}_error" in doc:
        return doc[field].encode()
    return doc[field]


def _expected(decoded: Any) -> Any:
    if isinstance(decoded, Undecodable):
        return decoded.data
    return plain(decoded)


def _header_expected(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode()}


@FUZZ
@given(st.sampled_from(FORMATS), st.sampled_from(FORMATS), PAYLOAD, PAYLOAD, HEADERS, TIMESTAMP)
@example("auto", "auto", b"k", b"v", (), 2**62)  # time.localtime raised OSError: a crash
@example("json", "int", b"\xff", b"\xff" * 3, (("a", b"\xff"), ("a", None)), -1)
@example("str", "json", None, b"[" * 2000, (), 0)  # deeper than orjson reads
@example("auto", "int", None, b"123456789012345678901234", (), 0)  # no int64: line lost
def test_every_codec_in_every_format(
    key_format: str,
    value_format: str,
    key: bytes | None,
    value: bytes | None,
    headers: tuple[tuple[str, bytes | None], ...],
    timestamp: int,
) -> None:
    event = _event(key_format, value_format, key, value, headers, timestamp)

    # jsonl: every byte recoverable, flagged when it is not what the format said
    line = make_formatter("jsonl")(event, event.value)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    doc = orjson.loads(line)
    assert (doc["topic"], doc["partition"], doc["offset"], doc["timestamp"]) == (
        "orders", 3, 1042, timestamp,
    )  # fmt: skip
    assert _recovered(doc, "key") == _expected(event.key)
    assert _recovered(doc, "value") == _expected(event.value)
    for name in {n for n, _ in headers}:
        values = [_header_expected(v) for n, v in headers if n == name]
        assert doc["headers"][name] == (values[0] if len(values) == 1 else values)
    if isinstance(event.value, Undecodable):
        assert doc["value_error"].startswith(f"not {value_format}")
    if value_format == "raw" and value is not None:
        assert base64.b64decode(doc["value"]) == value  # raw is always bytes: base64

    # raw: the value's bytes exactly as stored, whatever the format decoded; a tombstone
    # has none and writes nothing
    raw_line = make_formatter("raw")(event, event.value)
    assert raw_line == (b"" if value is None else value + b"\n")

    # pretty (both colourings) and a template with every field: text lines, no crash
    for formatter in (
        make_formatter("pretty", color=False),
        make_formatter("pretty", color=True),
        make_formatter(TEMPLATE),
    ):
        text = formatter(event, event.value)
        assert text.endswith(b"\n")
        assert b"1042" in text


@FUZZ
@given(st.integers(-(2**63), 2**63 - 1))
@example(2**62)  # OSError from time.localtime
@example(253402300800000)  # year 10000
def test_local_time_never_raises(timestamp: int) -> None:
    shown = local_time(timestamp)
    assert shown == "-" if timestamp < 0 else shown and str(timestamp % 1000).zfill(3) in shown


@FUZZ
@given(st.sampled_from(FORMATS), PAYLOAD, PAYLOAD, HEADERS)
def test_filters_see_every_payload(
    value_format: str,
    key: bytes | None,
    value: bytes | None,
    headers: tuple[tuple[str, bytes | None], ...],
) -> None:
    """--where sees the decoded value, or the bytes when it did not decode; raw_* as stored."""
    event = _event("auto", value_format, key, value, headers, 0)
    record = ConsumedRecord.from_event(event)
    assert record.raw_value == value and record.raw_key == key
    assert not isinstance(record.value, Undecodable)
    where = compile_where(["isinstance(value, dict) and value.get('order', 0) > 0"])
    assert where is not None
    assert where(record) == (isinstance(record.value, dict) and record.value.get("order", 0) > 0)
