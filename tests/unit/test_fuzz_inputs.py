"""Fuzzing everything a user types: each input gives the right value, or a clear usage error.

The grammars (``-o``, ``--until``, ``--to``, ``TOPIC[:P]``, ``-X``, ``-b``, templates,
``--where``, ``--header``/``--grep``, ``--script`` files) are fuzzed in process, where
hypothesis can try many inputs fast; the command line is fuzzed through Typer's
CliRunner for the exit-code contract: 2 and a ``kconsume:`` line (or Typer's usage
box) for bad usage, never a traceback.  The broker address is 127.0.0.1:1, so an
input that parses is refused only by the connection (exit 1), at once.

Every ``@example`` is an input that once gave a traceback or a wrong exit code.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kconsume.cli import app
from kconsume.cli import options as o
from kconsume.engine.positions import MAX_OFFSET, StartAt, parse_time_ms
from kconsume.engine.types import TP, Event, Message
from kconsume.groups.selection import MAX_PARTITION, CommitTo, Selection
from kconsume.records.filters import (
    FilterSyntaxError,
    compile_where,
    load_script,
    make_prefilter,
)
from kconsume.records.output import TEMPLATE_FIELDS, make_formatter
from kconsume.records.record import ConsumedRecord

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLI = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Text a person might type, biased towards the grammars' own pieces.
_PIECES = st.sampled_from(
    ["@", "-", "+", "beginning", "end", "stored", "earliest", "latest", "T", "Z", ":", ",",
     "2026-11-27", "14:00:00", "+01:00", "9" * 25, "0", "1", " ", "=", ".", "{", "}", "\x00",
     "\udcff", "١٢", "e", "ms", "1795791249599"]
)  # fmt: skip
TYPED = st.one_of(
    st.text(max_size=30),
    st.lists(_PIECES, max_size=6).map("".join),
    st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=8).map("".join),
)


# -- where to start and stop ----------------------------------------------------------


@FAST
@given(TYPED)
@example("99999999999999999999999")  # larger than an int64 offset: was accepted
@example("-99999999999999999999999")
@example("@99999999999999999999")
@example("@1969-12-31T23:59:59.999Z")  # -1 ms: the broker reads -1 as "latest"
@example("@9999-12-31T23:59:59-14:00")  # past year 9999 in UTC: OverflowError
@example("١٢")  # Unicode digits
def test_offset_grammar(spec: str) -> None:
    try:
        start = StartAt.parse(spec)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 0 <= start.value <= MAX_OFFSET
    assert StartAt.parse(str(start)) == start  # what it shows is what it means


@given(st.sampled_from(["offset", "from_end", "time"]), st.integers(0, MAX_OFFSET))
@FAST
def test_offsets_round_trip(kind: str, value: int) -> None:
    start = StartAt(kind, value)  # type: ignore[arg-type]
    assert StartAt.parse(str(start)) == start


@FAST
@given(TYPED)
@example("0001-01-01T00:00:00")
@example("1969-01-01T00:00:00Z")
def test_time_grammar(text: str) -> None:
    try:
        millis = parse_time_ms(text)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 0 <= millis <= MAX_OFFSET


@FAST
@given(TYPED)
@example("+99999999999999999999")
def test_commit_to_grammar(spec: str) -> None:
    try:
        to = CommitTo.parse(spec)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert -MAX_OFFSET <= to.value <= MAX_OFFSET
    assert CommitTo.parse(str(to)) == to


@FAST
@given(st.one_of(TYPED, st.builds("{}:{}".format, st.text(max_size=5), TYPED)))
@example("orders:99999999999999")  # not an int32 partition
@example("0\n:")  # a topic name with a newline made the message two lines
def test_selection_grammar(spec: str) -> None:
    try:
        chosen = Selection.parse(spec)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert chosen.topic
    assert all(0 <= p <= MAX_PARTITION for p in chosen.partitions or ())
    assert Selection.parse(str(chosen)) == chosen


# -- Kafka settings -----------------------------------------------------------------------

_X_NAMES = st.sampled_from(
    ["request.timeout.ms", "session_timeout_ms", "max.poll.records", "isolation.level",
     "security.protocol", "sasl.mechanism", "sasl.mechanisms", "ssl.ca.location",
     "ssl.context", "fetch.max.wait.ms", "bogus.name", "", "SASL.USERNAME"]
)  # fmt: skip
_X_VALUES = st.one_of(
    st.sampled_from(["abc", "-5", "0", "1", "6000", "1e3", "99999999999", "SSL", "ssl",
                     "read_committed", "PLAIN", "SCRAM-SHA-512", "/nonexistent/ca.pem", ""]),
    st.text(max_size=8),
)  # fmt: skip


@FAST
@given(st.lists(st.one_of(st.builds("{}={}".format, _X_NAMES, _X_VALUES), TYPED), max_size=3))
@example(["request.timeout.ms=abc"])  # TypeError inside aiokafka, a traceback
@example(["max.poll.records=-5"])  # ValueError inside aiokafka, a traceback
@example(["security.protocol=BOGUS"])  # the same
@example(["session.timeout.ms=99999999999"])  # no int32: a struct error on the wire
@example(["ssl.context=x"])  # an object, not text
def test_client_config(specs: list[str]) -> None:
    try:
        settings_ = o.broker_settings(specs, None, None, None, None, None, None, None)
    except typer.BadParameter as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    for key, value in settings_.items():
        assert key in o.PASSTHROUGH or key.startswith("ssl_")
        if key.endswith("_ms") or key.startswith("max_") or key.endswith("_bytes"):
            assert isinstance(value, int) and 0 <= value < 2**31


@FAST
@given(TYPED)
@example("bad host:xx")  # ValueError in aiokafka: a traceback
@example("127.0.0.1:99999")
@example("kafka://")
def test_broker_address(value: str) -> None:
    try:
        o.broker_address(value)
    except typer.BadParameter as exc:
        assert str(exc)
        return
    assert value.strip()


# -- output templates -------------------------------------------------------------------

_TEMPLATE_PIECES = st.one_of(
    st.sampled_from([f"{{{f}}}" for f in TEMPLATE_FIELDS]),
    st.builds(
        "{{{}{}{}}}".format,
        st.sampled_from([*TEMPLATE_FIELDS, "nope", "0", ""]),
        st.sampled_from(["", "!r", "!s", "!a", "!z"]),
        st.sampled_from(["", ":>8", ":c", ":d", ":x", ":,", ":.3", ":99999", ":{offset}",
                         "[0]", ".real"]),
    ),
    st.text(alphabet=string.printable + "\udcff", max_size=4),
)  # fmt: skip


def _event(
    key: bytes | None = b"k",
    value: bytes | None = b"v",
    headers: tuple[tuple[str, bytes | None], ...] = (),
    offset: int = 7,
    timestamp: int = 1795791249599,
) -> Event:
    message = Message(TP("orders", 0), offset, timestamp, key, value, headers)
    return Event(message, key.decode("utf-8", "replace") if key is not None else None, value)


@FAST
@given(st.lists(_TEMPLATE_PIECES, max_size=5).map("".join), st.integers(0, MAX_OFFSET))
@example("{value!z}", 0)  # failed on every message, counted but never written
@example("{key.x}", 0)  # AttributeError: the run crashed with a traceback
@example("{value[5]}", 0)  # IndexError on short values: the same
@example("{offset:c}", 0x110000)  # OverflowError past U+10FFFF
@example("{value:{offset}}", 10**9)  # a gigabyte of padding per line
@example("\udcff{offset}", 1)  # a template that was not UTF-8 on the command line
def test_templates(template: str, offset: int) -> None:
    try:
        formatter = make_formatter(template)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    try:
        line = formatter(_event(offset=offset), "v")
    except ValueError:  # counted as an output error for that message
        return
    assert line.endswith(b"\n")


# -- filters ------------------------------------------------------------------------------

_WHERE_PIECES = st.sampled_from(
    ["value", "key", "headers", "offset", "msg.raw_value", "re.match(r'a', key)", "[", "]",
     "(", ")", " and ", " or ", " > ", "==", "'x'", "1", "0", "None", "lambda: 1", ".get",
     "['total']", "\x00", "\\", "#", "\n", "yield", "await x", "-" * 50]
)  # fmt: skip


def _record(value: object = "v") -> ConsumedRecord:
    return ConsumedRecord("orders", 0, 7, 1795791249599, "k", value, {}, b"k", b"v")


@FAST
@given(st.lists(st.one_of(st.lists(_WHERE_PIECES, max_size=8).map("".join), TYPED), max_size=3))
@example(["-" * 200_000 + "1"])  # compile() raised RecursionError/MemoryError: a traceback
@example(["(" * 300 + ")" * 300])
@example(["1\x002"])
def test_where_expressions(expressions: list[str]) -> None:
    try:
        where = compile_where(expressions)
    except FilterSyntaxError as exc:
        assert str(exc).startswith("bad --where expression")
        return
    if where is None:
        assert not expressions
        return
    try:
        kept = where(_record())
    except Exception:  # counted as "does not match" by the runner
        return
    assert isinstance(kept, bool)


@FAST
@given(
    st.lists(st.one_of(TYPED, st.builds("{}={}".format, TYPED, TYPED)), max_size=3),
    st.lists(st.one_of(TYPED, st.sampled_from(["a{99999999999}", "(?P<", "\\", "[", "*"])),
             max_size=3),
)  # fmt: skip
@example([], ["\udcff"])  # a non-UTF-8 argument byte: "surrogates not allowed"
@example(["trace=\udcff"], [])
@example([], ["a{99999999999}"])  # OverflowError from re
def test_prefilters(headers: list[str], greps: list[str]) -> None:
    try:
        prefilter = make_prefilter(headers, greps)
    except FilterSyntaxError as exc:
        assert str(exc)
        return
    if prefilter is None:
        assert not headers and not greps
        return
    message = Message(TP("orders", 0), 7, 0, b"k", b"\xff\xfe value", (("trace", b"\xff"),))
    assert prefilter(message) in (True, False)


def test_grep_matches_the_bytes_typed_even_when_not_utf8() -> None:
    """A non-UTF-8 argument reaches Python as surrogate escapes: it greps those bytes."""
    prefilter = make_prefilter(["trace=\udcff"], ["\udcfe value"])
    assert prefilter is not None
    assert prefilter(Message(TP("o", 0), 0, 0, None, b"\xfe value", (("trace", b"\xff"),)))
    assert not prefilter(Message(TP("o", 0), 0, 0, None, b"\xfe value", (("trace", b"x"),)))


_SCRIPT_PIECES = st.sampled_from(
    [b"def keep(msg):\n    return True\n", b"def transform(msg):\n    return msg.value\n",
     b"async def keep(msg):\n    return 1\n", b"keep = 3\n", b"raise ValueError('x')\n",
     b"import sys\nsys.exit(3)\n", b"raise SystemExit\n", b"(((\n", b"\x00", b"\xff\xfe",
     b"def keep(:\n", b"    ", b"\n", b"transform = None\n", b"-" * 200_000 + b"1\n",
     b"# -*- coding: latin-1 -*-\n"]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_SCRIPT_PIECES, st.binary(max_size=6)), max_size=4).map(b"".join))
@example(b"\xff\xfe")  # not UTF-8: UnicodeDecodeError
@example(b"import sys\nsys.exit(3)\n")  # SystemExit at load: kconsume exited 3, silently
@example(b"-" * 200_000 + b"1\n")  # RecursionError in compile()
def test_script_files(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("script") / "filter.py"
    path.write_bytes(content)
    try:
        script = load_script(path)
    except FilterSyntaxError as exc:
        assert str(exc)
        return
    assert script.keep is not None or script.transform is not None


# -- the command line: exit 2 and one clear line, before connecting ----------------------

BROKER = ("-b", "127.0.0.1:1")  # nothing listens there: an accepted input fails at once
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    output = result.output
    assert "Traceback" not in output, output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, output


def assert_usage_error(code: int, output: str) -> None:
    assert code == 2, output
    first = output.strip().splitlines()[0]
    assert first.startswith(("kconsume:", "Usage:")), output


def assert_unreachable(code: int, output: str) -> None:
    assert code == 1, output
    assert output.strip().splitlines()[-1].startswith("kconsume: cannot reach"), output


def _accepted(parse: object, value: str) -> bool:
    try:
        parse(value)  # type: ignore[operator]
    except (ValueError, typer.BadParameter, FilterSyntaxError):
        return False
    return True


_OPTION_VALUE = TYPED.filter(lambda s: not s.startswith("-") and "\x00" not in s)


@CLI
@given(_OPTION_VALUE)
@example("99999999999999999999999")
@example("@1969-12-31T23:59:59.999Z")
def test_cli_offset(spec: str) -> None:
    code, output = invoke("consume", "t", *BROKER, "-e", f"--offset={spec}")
    if _accepted(StartAt.parse, spec) and StartAt.parse(spec).kind != "stored":
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)


@CLI
@given(_OPTION_VALUE)
def test_cli_until(spec: str) -> None:
    code, output = invoke("consume", "t", *BROKER, f"--until={spec}")
    if _accepted(parse_time_ms, spec.removeprefix("@")):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)


@CLI
@given(_OPTION_VALUE)
@example("+99999999999999999999")
def test_cli_commit_to(spec: str) -> None:
    code, output = invoke("commit", "g", "t", *BROKER, f"--to={spec}")
    if _accepted(CommitTo.parse, spec):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)


def _partition(spec: str) -> int:
    number = int(spec)  # as click reads an int option
    if not 0 <= number <= MAX_PARTITION:
        raise ValueError(number)
    return number


@CLI
@given(st.one_of(st.integers(), st.text(max_size=12)).map(str))
@example("99999999999999999999")
def test_cli_partition(spec: str) -> None:
    code, output = invoke("consume", "t", *BROKER, "-e", f"--partition={spec}")
    if _accepted(_partition, spec):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)


@CLI
@given(st.lists(st.builds("{}={}".format, _X_NAMES, _X_VALUES), min_size=1, max_size=2))
@example(["request.timeout.ms=abc"])
@example(["max.poll.records=-5"])
@example(["security.protocol=BOGUS"])
def test_cli_client_config(specs: list[str]) -> None:
    args = [a for spec in specs for a in ("-X", spec)]
    code, output = invoke("consume", "t", *BROKER, "-e", *args)
    if _accepted(lambda _: o.broker_settings(specs, *[None] * 7), ""):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)


@CLI
@given(_OPTION_VALUE.filter(lambda value: not _accepted(o.broker_address, value)))
@example("bad host:xx")
@example("127.0.0.1:99999")
def test_cli_broker_address(value: str) -> None:
    """Only addresses it refuses: one it accepts may name a host to look up (slow)."""
    code, output = invoke("consume", "t", f"--broker={value}", "-e")
    assert_usage_error(code, output)


@CLI
@given(st.lists(_TEMPLATE_PIECES, min_size=1, max_size=4).map("".join))
@example("{key.x}")
@example("{value!z}")
def test_cli_template(template: str) -> None:
    code, output = invoke("consume", "t", *BROKER, "-e", f"--format={template}")
    if template in ("", "jsonl", "pretty", "raw") or _accepted(make_formatter, template):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)


@CLI
@given(st.lists(_WHERE_PIECES, min_size=1, max_size=6).map("".join))
@example("-" * 200_000 + "1")
def test_cli_where(expression: str) -> None:
    code, output = invoke("consume", "t", *BROKER, "-e", f"--where={expression}")
    if _accepted(lambda e: compile_where([e]), expression):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)
        assert output.startswith("kconsume: bad --where expression")


@CLI
@given(st.lists(_SCRIPT_PIECES, min_size=1, max_size=3).map(b"".join))
@example(b"import sys\nsys.exit(3)\n")
def test_cli_script(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path: Path = tmp_path_factory.mktemp("cli-script") / "filter.py"
    path.write_bytes(content)
    code, output = invoke("consume", "t", *BROKER, "-e", "--script", str(path))
    if _accepted(load_script, str(path)):
        assert_unreachable(code, output)
    else:
        assert_usage_error(code, output)
        assert output.startswith("kconsume:")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--security-protocol", "BOGUS"), "--security-protocol"),
        (("--sasl-mechanism", "SCRAM-SHA-512"), "--sasl-username"),
        (("-X", "security.protocol=SASL_SSL"), "mechanism"),
        (("-X", "ssl.ca.location=/nonexistent/ca.pem"), "no such file"),
    ],
)
def test_cli_security_usage_errors(args: tuple[str, ...], says: str) -> None:
    code, output = invoke("consume", "t", *BROKER, "-e", *args)
    assert_usage_error(code, output)
    assert says in output


def test_cli_a_ca_file_that_is_no_certificate(tmp_path: Path) -> None:
    """Loaded before connecting: an ssl.SSLError there was a traceback."""
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    code, output = invoke("consume", "t", *BROKER, "-e", "-X", f"ssl.ca.location={bogus}")
    assert_usage_error(code, output)
    assert "cannot use the TLS files" in output
