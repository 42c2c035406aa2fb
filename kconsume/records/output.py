"""Output formats for ``consume``: jsonl, pretty, raw and templates.

Every formatter turns one event (and, after ``--script`` transforms, a value) into
bytes ending in a newline.  JSON is written with orjson; bytes that are not valid
UTF-8 are never dropped or mangled: they are written base64-encoded and flagged.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable
from typing import Any

import orjson

from ..engine.types import Event, Headers
from ..schemas import SchemaValue
from .decoding import Undecodable
from .record import b64, header_dict, header_value

__all__ = [
    "NO_KEY",
    "TEMPLATE_FIELDS",
    "TOMBSTONE",
    "Formatter",
    "framed_note",
    "human_text",
    "make_formatter",
]

#: How text output (pretty, templates, the dashboard) shows a null key and a null value
#: (a tombstone), so that neither reads like the text "null".
NO_KEY = "(no key)"
TOMBSTONE = "(tombstone)"
#: How text output shows bytes that are not UTF-8: base64, as jsonl writes them.
BASE64_PREFIX = "base64:"

Formatter = Callable[[Event, Any], bytes]
"""(event, value to write) -> line.  The value is ``event.value`` unless a script transformed it."""

TEMPLATE_FIELDS = ("topic", "partition", "offset", "timestamp", "time", "key", "value", "headers")

_NEWLINE = orjson.OPT_APPEND_NEWLINE
_PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))


def _put(doc: dict[str, Any], field: str, value: Any) -> None:
    """Set ``doc[field]`` to a JSON-able form of ``value``, flagging base64 and errors."""
    if type(value) in _PLAIN_TYPES:
        doc[field] = value
    elif type(value) is SchemaValue:
        _put(doc, field, value.value)
        if value.schema_id is not None:
            doc[f"{field}_schema_id"] = value.schema_id
        if value.subject is not None:
            doc[f"{field}_subject"] = value.subject
        if not value.decoded:
            doc[f"{field}_note"] = framed_note(value)
    elif isinstance(value, bytes | bytearray):
        doc[field] = b64(bytes(value))
        doc[f"{field}_encoding"] = "base64"
    elif isinstance(value, Undecodable):
        try:
            doc[field] = value.data.decode("utf-8")
        except UnicodeDecodeError:
            doc[field] = b64(value.data)
            doc[f"{field}_encoding"] = "base64"
        doc[f"{field}_error"] = value.error
    else:
        doc[field] = value  # orjson knows dataclasses, datetimes, numpy; else it says so


def framed_note(value: SchemaValue) -> str:
    """What to pass to decode a framed value shown undecoded."""
    return (
        f"Confluent wire format, schema id {value.schema_id}: "
        "pass --registry URL (or --value-format avro|protobuf with a local schema)"
    )


def _json_header_value(raw: bytes | None) -> Any:
    decoded = header_value(raw)
    return {"base64": b64(decoded)} if isinstance(decoded, bytes) else decoded


def _json_headers(headers: Headers) -> dict[str, Any]:
    return header_dict(headers, _json_header_value)


def jsonl(event: Event, value: Any) -> bytes:
    m = event.message
    doc: dict[str, Any] = {
        "topic": m.topic,
        "partition": m.partition,
        "offset": m.offset,
        "timestamp": m.timestamp,
    }
    _put(doc, "key", event.key)
    _put(doc, "value", value)
    doc["headers"] = _json_headers(m.headers) if m.headers else {}
    return orjson.dumps(doc, option=_NEWLINE)


def human_text(value: Any, *, key: bool = False, stored: bytes | None = b"") -> str:
    """A key or value as text output shows it (pretty, templates, the dashboard): text as
    text, JSON compact, bytes that are not UTF-8 as ``base64:...``, a null key as
    :data:`NO_KEY` and a null value as :data:`TOMBSTONE`.  ``stored`` is what the log
    holds: a JSON ``null`` (stored bytes) is ``null``, no bytes at all is the marker."""
    if isinstance(value, SchemaValue):
        value = value.value
    if value is None and stored is None:
        return NO_KEY if key else TOMBSTONE
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return f"{BASE64_PREFIX}{b64(bytes(value))}"
    if isinstance(value, Undecodable):
        try:
            return value.data.decode("utf-8")
        except UnicodeDecodeError:
            return f"{BASE64_PREFIX}{b64(value.data)}"
    if value is None:
        return "null"
    return orjson.dumps(value, default=str).decode()


_text = human_text


def raw(event: Event, value: Any) -> bytes:
    """The value alone, bytes exactly as stored, whatever ``--value-format`` decoded;
    a tombstone has none, and writes nothing.  A value a ``--script`` transform
    returned is written as JSON (compact), text as text."""
    if value is event.value:  # not transformed: what the log holds
        stored = event.message.value
        return b"" if stored is None else stored + b"\n"
    if isinstance(value, SchemaValue):
        value = value.value
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value) + b"\n"
    if isinstance(value, Undecodable):
        return value.data + b"\n"
    if isinstance(value, str):
        return value.encode() + b"\n"
    return orjson.dumps(value, default=str, option=_NEWLINE)


def local_time(timestamp_ms: int) -> str:
    """Local time with milliseconds; ``-`` for none, the number itself past what the OS knows."""
    if timestamp_ms < 0:
        return "-"
    seconds, millis = divmod(timestamp_ms, 1000)
    try:
        moment = time.localtime(seconds)
    except (OverflowError, OSError, ValueError):  # a producer may write any int64
        return f"@{timestamp_ms}ms"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', moment)}.{millis:03d}"


class _Colors:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text


def pretty(color: bool) -> Formatter:
    paint = _Colors(color)

    def format_pretty(event: Event, value: Any) -> bytes:
        m = event.message
        key = _text(event.key, key=True, stored=m.key)
        head = (
            f"{paint(f'{m.topic}[{m.partition}]', '1;36')} {paint(f'@{m.offset}', '33')}  "
            f"{paint(local_time(m.timestamp), '2')}  key {paint(key, '35')}"
        )
        schema = value if isinstance(value, SchemaValue) else None
        if schema is not None:
            value = schema.value
            head += paint(f"  schema {schema.schema_id}", "2")
            if schema.subject:
                head += paint(f" ({schema.subject})", "2")
        if isinstance(value, dict | list):
            body = orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
        else:
            body = _text(value, stored=m.value if value is event.value else b"")
        lines = [head, body]
        if isinstance(value, Undecodable):
            lines.append(paint(f"  ({value.error})", "31"))
        if schema is not None and not schema.decoded:
            lines.append(paint(f"  ({framed_note(schema)})", "33"))
        if m.headers:
            shown = ", ".join(
                f"{k}={'(null)' if v is None else _text(header_value(v))}" for k, v in m.headers
            )
            lines.append(paint(f"  headers: {shown}", "2"))
        return ("\n".join(lines) + "\n").encode()

    return format_pretty


def _unescape(template: str) -> str:
    return template.replace("\\n", "\n").replace("\\t", "\t")


#: A value of each template field's type (every field is text or a number), to try a
#: template on before anything is consumed.
_SAMPLE_FIELDS: dict[str, Any] = {
    "topic": "orders",
    "partition": 0,
    "offset": 1042,
    "timestamp": 1795791249599,
    "time": "2026-11-27 14:00:00.000",
    "key": "k",
    "value": "v",
    "headers": "{}",
}


def _encode_line(line: str) -> bytes:
    # Command-line text that was not UTF-8 arrives as surrogate escapes: write those bytes back.
    return (line + "\n").encode("utf-8", "surrogateescape")


def template(spec: str) -> Formatter:
    """A ``str.format`` template over :data:`TEMPLATE_FIELDS`; ValueError if it is broken.

    Fields are plain names with an optional conversion and format spec
    (``{offset:>8}``, ``{key!r}``): every field is text or a number, so indexing
    and attributes (``{value[0]}``, ``{key.x}``) are refused, and the template is
    tried on sample values first, so a spec that cannot apply is refused too.
    """
    text = _unescape(spec)
    try:
        parsed = [(f, s) for _, f, s, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ValueError(f"bad template {spec!r}: {exc}") from None
    fields = [f for f, _ in parsed]
    for field_name, format_spec in parsed:
        if "{" in (format_spec or "") or any(
            len(n) > 4 for n in re.findall(r"[0-9]+", format_spec or "")
        ):
            raise ValueError(
                f"bad template {spec!r}: {{{field_name}:{format_spec}}}: format specs take "
                "no fields and numbers up to 9999"
            )
    unknown = sorted({f.split(".")[0].split("[")[0] for f in fields} - set(TEMPLATE_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in template; "
            f"known: {', '.join(TEMPLATE_FIELDS)}"
        )
    extended = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if extended:
        raise ValueError(
            f"bad template {spec!r}: {{{extended[0]}}}: fields are plain names "
            "(indexing and attributes are not supported: use --script for more)"
        )
    try:
        _encode_line(text.format(**_SAMPLE_FIELDS))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(f"bad template {spec!r}: {type(exc).__name__}: {exc}") from None

    def format_template(event: Event, value: Any) -> bytes:
        m = event.message
        try:
            line = text.format(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                timestamp=m.timestamp,
                time=local_time(m.timestamp),
                key=_text(event.key, key=True, stored=m.key),
                value=_text(value, stored=m.value if value is event.value else b""),
                headers=_text(_json_headers(m.headers)),
            )
            return _encode_line(line)
        except (ValueError, TypeError, OverflowError) as exc:  # {offset:c} past U+10FFFF, ...
            raise ValueError(f"template: {type(exc).__name__}: {exc}") from None

    return format_template


def make_formatter(name: str, *, color: bool = False) -> Formatter:
    """``jsonl``, ``pretty``, ``raw``, or a template containing ``{field}``s."""
    if name == "jsonl":
        return jsonl
    if name == "pretty":
        return pretty(color)
    if name == "raw":
        return raw
    if "{" in name:
        return template(name)
    raise ValueError(f"unknown format {name!r}: use jsonl, pretty, raw or a '{{field}}' template")
