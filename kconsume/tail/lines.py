"""How the dashboard writes a message: one line in the tail, a full view when opened.

Plain strings only (no Textual): the widgets style them, and search matches them.
Times are shown in ``tz`` (None: the local zone); tests pass UTC so that nothing
rendered depends on where they run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import orjson

from ..engine.types import Event, Headers
from ..records.decoding import Undecodable
from ..records.output import TOMBSTONE, human_text
from ..schemas import SchemaValue

__all__ = [
    "MessageLine",
    "find",
    "format_age",
    "format_clock",
    "format_number",
    "format_offset",
    "format_timestamp",
    "header_pairs",
    "hex_dump",
    "message_line",
    "pretty_value",
    "schema_text",
    "short_text",
]

#: Characters of a value kept for its one-line form (the widget crops to its width).
LINE_VALUE_LIMIT = 400
#: Control characters shown as their Unicode pictures: a payload must never drive the
#: terminal (ESC sequences) nor break a line (newlines are ⏎, tabs a space).
_CONTROLS: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)} | {
    0x7F: "\u2421",
    0x0A: "⏎",
    0x09: " ",
    0x0D: "",
}


@dataclass(frozen=True, slots=True)
class MessageLine:
    """The parts of one message's line in the tail."""

    time: str
    where: str
    """``topic[partition]@offset``."""
    key: str
    value: str

    @property
    def text(self) -> str:
        return f"{self.time}  {self.where}  {self.key}  {self.value}"


def format_clock(seconds: float, tz: tzinfo | None = None, *, millis: bool = False) -> str:
    """``HH:MM:SS`` (``.mmm`` with ``millis``) of a wall-clock time in seconds."""
    moment = datetime.fromtimestamp(seconds, tz)
    text = moment.strftime("%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}" if millis else text


def format_timestamp(timestamp_ms: int, tz: tzinfo | None = None) -> str:
    """A Kafka timestamp as ``YYYY-MM-DD HH:MM:SS.mmm ZONE`` (``-`` when the producer gave none)."""
    if timestamp_ms < 0:
        return "-"
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz)
    if tz is None:
        moment = moment.astimezone()  # the local zone, named
    zone = moment.strftime("%Z") or moment.strftime("%z")
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')}.{timestamp_ms % 1000:03d} {zone}".rstrip()


def short_text(
    value: Any, limit: int = LINE_VALUE_LIMIT, *, key: bool = False, stored: bytes | None = b""
) -> str:
    """A key or value on one line, as ``consume``'s text output writes it: compact JSON,
    text, ``base64:...`` for bytes that are not UTF-8, ``(no key)``, ``(tombstone)``
    (``stored``: the bytes in the log, None for none)."""
    text = human_text(value, key=key, stored=stored)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.translate(_CONTROLS)


def message_line(event: Event, tz: tzinfo | None = None) -> MessageLine:
    m = event.message
    time = format_clock(m.timestamp / 1000, tz, millis=True) if m.timestamp >= 0 else "-" * 12
    return MessageLine(
        time=time,
        where=f"{m.topic}[{m.partition}]@{m.offset}",
        key=short_text(event.key, 40, key=True, stored=m.key),
        value=short_text(event.value, stored=m.value),
    )


def pretty_value(value: Any, stored: bytes | None = b"") -> tuple[str, str]:
    """The full value for the message view: (text, ``json`` or ``text``); ``stored``: the
    bytes in the log (None: a tombstone)."""
    if isinstance(value, SchemaValue):
        value = value.value
    if isinstance(value, Undecodable):
        return f"{human_text(value)}\n\n({value.error})", "text"
    if isinstance(value, str):
        return value, "text"
    if isinstance(value, bytes | bytearray):
        return f"{human_text(value)}\n\n(bytes that are not UTF-8: x shows them in hex)", "text"
    if value is None and stored is None:
        return f"{TOMBSTONE}: no value", "text"
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode(), "json"
    except TypeError:
        return repr(value), "text"


def hex_dump(data: bytes, limit: int = 64 * 1024) -> str:
    """``data`` as ``xxd`` shows it: offset, 16 bytes in hex, the printable ones as text."""
    lines = []
    for start in range(0, min(len(data), limit), 16):
        chunk = data[start : start + 16]
        hexes = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start:08x}: {hexes:<39}  {text}")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes")
    return "\n".join(lines) if lines else "(no bytes)"


def schema_text(value: Any) -> str | None:
    """Which schema decoded a key or value (None if none did), for the message view."""
    if not isinstance(value, SchemaValue):
        return None
    subject = f", subject {value.subject}" if value.subject else ""
    if not value.decoded:
        return (
            f"id {value.schema_id} (Confluent wire format, not decoded: "
            "kconsume tail --registry URL decodes it)"
        )
    kind = f" ({value.schema_type})" if value.schema_type else ""
    shown = f"id {value.schema_id}" if value.schema_id is not None else "local schema"
    return f"{shown}{subject}{kind}"


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """Headers as (name, text); values that are not UTF-8 are shown as Python bytes."""
    out = []
    for name, raw in headers:
        if raw is None:
            text = "null"
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = repr(raw)
        out.append((name, text))
    return out


def find(
    events: Sequence[Event],
    needle: str,
    start: int,
    *,
    backwards: bool = False,
    tz: tzinfo | None = None,
    decode: Callable[[Event], Event] | None = None,
) -> int | None:
    """Index of the first event at or after (before, ``backwards``) ``start`` whose line
    contains ``needle`` (case-insensitive), or None."""
    needle = needle.casefold()
    if not needle or not events:
        return None
    if backwards:
        indexes = range(min(start, len(events) - 1), -1, -1)
    else:
        indexes = range(max(start, 0), len(events))
    for index in indexes:
        event = events[index] if decode is None else decode(events[index])
        if needle in message_line(event, tz).text.casefold():
            return index
    return None


def format_age(seconds: float | None) -> str:
    """A duration for a narrow column: ``0.4s``, ``42s``, ``3m05s``, ``2h07m``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_number(value: int | None) -> str:
    """A count with thousands separators; ``-`` for None."""
    return "-" if value is None else f"{value:,}"


def format_offset(value: int | None) -> str:
    """An offset as ``-o`` takes it and the message list shows it (no separators);
    ``-`` for None."""
    return "-" if value is None else str(value)
