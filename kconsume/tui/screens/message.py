"""The message view (Enter): one message in full, and what the engine is doing with it.

Value as pretty JSON (or text), key, headers, timestamp, partition and offset, its
refcount and the streams that still hold it, and where it stands against its
partition's commit.  The live part follows the engine while the view is open.  Opened
with ``b`` on the record blocking a commit, it says so first: the partition it blocks,
how long it has been in flight, which streams hold it.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import ClassVar

import orjson
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...engine.snapshot import EngineSnapshot
from ...engine.types import Event
from ...records.output import TOMBSTONE, jsonl
from ...tail.lines import (
    format_age,
    format_timestamp,
    header_pairs,
    hex_dump,
    pretty_value,
    schema_text,
    short_text,
)
from ...tail.source import BlockingRecord, holders

__all__ = ["MessageScreen"]


def commit_position(event: Event, snapshot: EngineSnapshot | None) -> str:
    """Where the message stands against its partition's committed offset."""
    m = event.message
    p = snapshot.partition(m.tp) if snapshot is not None else None
    if p is None:
        return "its partition is not assigned here (any more)"
    if p.committed is None:
        return "nothing committed on this partition (no group, or not yet)"
    if p.committed > m.offset:
        return f"committed: the group's offset on {m.tp} is {p.committed}, past it"
    if p.oldest_inflight == m.offset:
        blocked = f" for {format_age(p.stalled_for)}" if p.stalled_for else ""
        warned = ", and the engine warned about it" if p.livelock_warned else ""
        return (
            f"it is the oldest in flight: it holds {m.tp}'s commit at {p.committed}"
            f"{blocked}{warned}"
        )
    return f"not committed yet: {m.tp} is committed up to {p.committed}"


class MessageScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("enter", "close", "Close", show=False),
        Binding("s", "skip", "Skip it", show=False),
        Binding("x", "hex", "Hex"),
        Binding("y", "copy", "Copy JSON"),
        Binding("w", "save", "Save JSON"),
    ]

    def __init__(
        self,
        event: Event,
        *,
        tz: tzinfo | None = None,
        dark: bool = True,
        blocking: BlockingRecord | None = None,
    ) -> None:
        """``blocking``: the message is the record blocking its partition's commit."""
        super().__init__()
        self.event = event
        self.tz = tz
        self.dark = dark
        self.blocking = blocking
        #: Whether the value is shown as a hex dump of its stored bytes (``x``).
        self.hex = False
        #: Where ``w`` wrote the message last (None: not yet).
        self.saved_to: Path | None = None

    def compose(self) -> ComposeResult:
        m = self.event.message
        with Vertical(id="message-dialog") as dialog:
            title = f"{m.topic}[{m.partition}] @{m.offset}"
            dialog.border_title = f"Blocking record: {title}" if self.blocking else title
            dialog.border_subtitle = "x hex · y copy JSON · w save JSON · esc closes"
            if self.blocking is not None:
                yield Static(self.blocking_text(self.blocking), id="message-blocking")
            yield Static(self._fields(), id="message-fields")
            yield Static(id="message-live")
            with VerticalScroll(id="message-body"):
                yield Static(self._value(), id="message-value")

    @staticmethod
    def blocking_text(record: BlockingRecord) -> Text:
        """What the blocking record holds back, for how long, and who holds it."""
        parts = [f"BLOCKING RECORD: {record.tp}@{record.offset} holds the partition's commit"]
        if record.blocked_for is not None:
            parts.append(f"blocked for {format_age(record.blocked_for)}")
        if record.inflight_for is not None:
            parts.append(f"in flight for {format_age(record.inflight_for)}")
        parts.append(
            f"held by {', '.join(record.holders)}" if record.holders else "held by no stream"
        )
        return Text("; ".join(parts), style="bold")

    def _fields(self) -> RenderableType:
        m = self.event.message
        table = self._grid()
        table.add_row("topic", m.topic)
        table.add_row("partition", str(m.partition))
        table.add_row("offset", str(m.offset))
        stamp = format_timestamp(m.timestamp, self.tz)
        table.add_row("timestamp", f"{stamp}  ({m.timestamp} ms)" if m.timestamp >= 0 else stamp)
        table.add_row("key", short_text(self.event.key, 200, key=True, stored=m.key))
        for name, part in (("key schema", self.event.key), ("schema", self.event.value)):
            described = schema_text(part)
            if described is not None:
                table.add_row(name, described)
        pairs = header_pairs(m.headers)
        headers = Text("\n".join(f"{k}: {v}" for k, v in pairs)) if pairs else Text("none")
        table.add_row("headers", headers)
        return table

    def live_rows(self, snapshot: EngineSnapshot | None) -> list[tuple[str, str]]:
        """What changes while the view is open: refcount and holders, commit position."""
        m = self.event.message
        names = holders(snapshot, m)
        if m.refcount <= 0 or m.acked:
            held = "0: every stream is done with it"
        elif names:
            held = f"{m.refcount}: held by {', '.join(names)}"
        else:
            held = f"{m.refcount}: still held"
        return [("refcount", held), ("commit", commit_position(self.event, snapshot))]

    @staticmethod
    def _grid() -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=9)
        table.add_column()
        return table

    def live(self, snapshot: EngineSnapshot | None) -> RenderableType:
        table = self._grid()
        for name, value in self.live_rows(snapshot):
            table.add_row(name, value)
        return table

    def as_json(self) -> str:
        """The message as ``kconsume consume`` writes it (jsonl), indented."""
        doc = orjson.loads(jsonl(self.event, self.event.value))
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()

    def file_name(self) -> str:
        m = self.event.message
        return f"kconsume-{m.topic}-{m.partition}-{m.offset}.json"

    def _value(self) -> RenderableType:
        if self.hex:
            stored = self.event.message.value
            title = f"value: {len(stored):,} bytes as stored (x: decoded)" if stored else "value"
            return Group(
                Text(title, style="bold"),
                Text(hex_dump(stored) if stored is not None else f"{TOMBSTONE}: no bytes"),
            )
        text, language = pretty_value(self.event.value, self.event.message.value)
        if language == "json":
            theme = "ansi_dark" if self.dark else "ansi_light"
            return Group(
                Text("value", style="bold"), Syntax(text, "json", theme=theme, word_wrap=True)
            )
        return Group(Text("value", style="bold"), Text(text))

    def update_live(self, snapshot: EngineSnapshot | None) -> None:
        """Show the message's refcount and commit state now (called on every poll)."""
        for live in self.query("#message-live").results(Static):  # none while closing
            live.update(self.live(snapshot))

    async def action_skip(self) -> None:
        """``s`` on the blocking record: the dashboard's skip (it confirms first)."""
        if self.blocking is not None:
            await self.app.run_action("skip")

    def action_hex(self) -> None:
        """``x``: the value's stored bytes as a hex dump, or decoded again."""
        self.hex = not self.hex
        self.query_one("#message-value", Static).update(self._value())

    def action_copy(self) -> None:
        """``y``: the message as JSON to the terminal's clipboard (OSC 52)."""
        self.app.copy_to_clipboard(self.as_json())
        self.notify("copied the message as JSON", title="copy")

    def action_save(self) -> None:
        """``w``: the message as JSON to ``kconsume-TOPIC-PARTITION-OFFSET.json`` in the
        current directory."""
        path = Path.cwd() / self.file_name()
        try:
            path.write_text(self.as_json() + "\n")
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.saved_to = path
        self.notify(f"saved to {path}", title="save")

    def action_close(self) -> None:
        self.dismiss(None)
