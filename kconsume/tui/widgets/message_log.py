"""The Messages panel: a live tail of the newest messages, newest at the bottom.

A Line API widget (after toolong's ``LogLines``): it keeps a copy of the tail
buffer's view, taken at most once per poll, sets its virtual height to the number
of messages and renders only the lines on screen, each cached as a ``Strip``.

It *follows* (stays on the newest message) until the user scrolls up or moves the
cursor; ``end`` follows again.  While it does not follow, the lines on screen stay
put as new messages arrive and old ones fall off the bounded buffer.  A dot in the
gutter marks messages some stream still holds (refcount above zero).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...engine.types import Event
from ...tail.buffer import TailBuffer
from ...tail.lines import find, message_line

__all__ = ["MessageLog"]


class MessageLog(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "follow", "Follow", show=False),
        Binding("enter", "inspect", "Inspect", show=False),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "message-log--time",
        "message-log--where",
        "message-log--key",
        "message-log--value",
        "message-log--held",
        "message-log--cursor",
        "message-log--match",
        "message-log--empty",
    }

    DEFAULT_CSS = """
    MessageLog { overflow-x: hidden; }
    """

    #: Follow the newest message.
    follow: reactive[bool] = reactive(True)
    #: Index of the highlighted message while not following.
    cursor: var[int | None] = var(None)
    #: Text highlighted in the lines (and looked for by n / N).
    search: reactive[str] = reactive("")

    class Inspect(Message):
        """Open this message (Enter)."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class FollowChanged(Message):
        def __init__(self, follow: bool) -> None:
            super().__init__()
            self.follow = follow

    class SearchResult(Message):
        """A search or n / N found nothing."""

        def __init__(self, found: bool, text: str) -> None:
            super().__init__()
            self.found = found
            self.text = text

    def __init__(
        self, *, tz: tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.rows: list[Event] = []
        #: Decodes a stored (raw) event for display; set from the buffer.
        self.decode: Callable[[Event], Event] = lambda event: event
        self._generation = -1
        self._shown = -1
        self._evicted = 0
        self._where_width = 16
        self._key_width = 6
        self._adjusting = False
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self.empty_text = "waiting for messages…"

    # -- data in -------------------------------------------------------------------------

    def sync(self, buffer: TailBuffer) -> bool:
        """Take the buffer's newest state (once per poll).  True if anything changed."""
        if buffer.generation == self._generation and buffer.shown == self._shown:
            self.refresh()  # refcounts of the lines on screen move on their own
            return False
        if buffer.generation != self._generation:
            dropped = 0
            self._generation = buffer.generation
            self.cursor = None
            self.follow = True
        else:
            dropped = buffer.evicted - self._evicted
        self._shown = buffer.shown
        self._evicted = buffer.evicted
        self.decode = buffer.decode
        self.rows = list(buffer.view)
        self.virtual_size = Size(0, len(self.rows))
        if self.follow:
            self._scroll_to_end()
        elif dropped:
            self._scroll_y_to(max(0, self.scroll_y - dropped))
            if self.cursor is not None:
                self.cursor = max(0, self.cursor - dropped)
        self.refresh()
        return True

    def _scroll_to_end(self) -> None:
        # force: the scrollbars of a virtual size set a moment ago are not laid out yet
        self._scroll_y_to(self.max_scroll_y)

    def _scroll_y_to(self, y: float) -> None:
        self._adjusting = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        finally:
            self._adjusting = False

    def on_resize(self) -> None:
        if self.follow:
            self._scroll_to_end()

    # -- following -----------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._adjusting and new_value < old_value and new_value < self.max_scroll_y:
            self.follow = False  # the user scrolled up

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.cursor = None
            self._scroll_to_end()
        self.refresh()
        self.post_message(self.FollowChanged(follow))

    def watch_cursor(self) -> None:
        self.refresh()

    def watch_search(self) -> None:
        self.refresh()

    def current(self) -> Event | None:
        """The message under the cursor, or the newest one when following (as stored:
        ``decode`` it to see its key and value)."""
        if not self.rows:
            return None
        index = self.cursor if self.cursor is not None else len(self.rows) - 1
        return self.rows[min(index, len(self.rows) - 1)]

    def move_cursor(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        self.follow = False
        self.cursor = index
        self.scroll_to_region(Region(0, index, 1, 1), animate=False, immediate=True)

    def _from(self) -> int:
        return self.cursor if self.cursor is not None else len(self.rows) - 1

    def action_cursor_up(self) -> None:
        self.move_cursor(self._from() - (0 if self.cursor is None else 1))

    def action_cursor_down(self) -> None:
        if self.cursor is not None:
            self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._from() - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        if self.cursor is not None:
            self.move_cursor(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_follow(self) -> None:
        self.follow = True

    def action_inspect(self) -> None:
        event = self.current()
        if event is not None:
            self.post_message(self.Inspect(event))

    # -- search ----------------------------------------------------------------------------

    def find(self, text: str) -> bool:
        """Highlight ``text`` and move to its newest match at or above the cursor."""
        self.search = text
        if not text:
            return True
        return self._jump(
            find(self.rows, text, self._from(), backwards=True, tz=self.tz, decode=self.decode)
        )

    def action_next_match(self) -> None:
        if self.search:
            start = self._from() + (1 if self.cursor is not None else len(self.rows))
            self._jump(find(self.rows, self.search, start, tz=self.tz, decode=self.decode))

    def action_previous_match(self) -> None:
        if self.search:
            start = self._from() - (1 if self.cursor is not None else 0)
            self._jump(
                find(self.rows, self.search, start, backwards=True, tz=self.tz, decode=self.decode)
            )

    def _jump(self, index: int | None) -> bool:
        if index is None:
            self.post_message(self.SearchResult(False, self.search))
            return False
        self.move_cursor(index)
        self.post_message(self.SearchResult(True, self.search))
        return True

    # -- rendering -------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"message-log--{name}")

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = round(self.scroll_y) + y
        if index >= len(self.rows):
            if not self.rows and y == 0:
                empty = Text(self.empty_text, self._style("empty"))
                strip = Strip(list(empty.render(self.app.console))).apply_style(base)
                return strip.crop_extend(0, width, base)
            return Strip.blank(width, base)
        event = self.rows[index]
        message = event.message
        held = message.refcount > 0 and not message.acked
        is_cursor = index == self.cursor and not self.follow
        key = (message.tp, message.offset, id(event), width, held, is_cursor, self.search)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        strip = self._render_event(event, width, base, held=held, is_cursor=is_cursor)
        self._cache[key] = strip
        return strip

    def _render_event(
        self, event: Event, width: int, base: Style, *, held: bool, is_cursor: bool
    ) -> Strip:
        line = message_line(self.decode(event), self.tz)
        self._where_width = min(max(self._where_width, len(line.where)), 32)
        self._key_width = min(max(self._key_width, len(line.key)), 16)
        key = line.key
        if len(key) > self._key_width:
            key = key[: self._key_width - 1] + "…"
        parts = (
            ("● " if held else "  ", "held"),
            (line.time, "time"),
            ("  ", None),
            (line.where.ljust(self._where_width), "where"),
            ("  ", None),
            (key.ljust(self._key_width), "key"),
            ("  ", None),
            (line.value, "value"),
        )
        line_style = base + self._style("cursor") if is_cursor else base
        if self.search:  # the slower way, with Rich, to highlight the matches
            text = Text(no_wrap=True, overflow="crop")
            for part, name in parts:
                text.append(part, self._style(name) if name else None)
            text.highlight_words([self.search], self._style("match"), case_sensitive=False)
            segments = list(text.render(self.app.console))
        else:  # segments straight away: this runs for every new line on screen
            segments = [
                Segment(part, self._style(name)) if name else Segment(part) for part, name in parts
            ]
        return Strip(segments).apply_style(line_style).crop_extend(0, width, line_style)
