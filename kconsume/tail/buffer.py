"""The tail buffer: the newest messages of the tail stream, bounded, behind the dashboard's filter.

Two bounded deques of engine :class:`~kconsume.engine.types.Event` objects:

* the *ring* keeps the last ``maxlen`` messages the tail stream read, whatever the filter;
* the *view* keeps the last ``maxlen`` of them that match the filter (it *is* the ring
  while no filter is set, so an unfiltered tail costs one ``append`` per message).

Changing the filter rebuilds the view from the ring, so a new filter applies at once to
the recent messages too.

The events are kept *raw* (key and value as the message's bytes) and decoded with
``decode`` only when something looks at them: a line on screen, a search, the filter.
Keeping ten thousand decoded JSON documents alive would cost little memory but a lot
of garbage-collector time, since every full collection walks every live container.

Counters let a reader that copies the view now and then work out what changed:
``shown`` counts every event appended to the view since the last rebuild, so
``shown - len(view)`` is how many fell off its front; ``generation`` changes on
every rebuild.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from ..engine.codecs import Codec
from ..engine.types import Event
from ..records.filters import USER_CODE_ERRORS, Where, compile_where
from ..records.record import ConsumedRecord

__all__ = ["DEFAULT_BUFFER_SIZE", "Decode", "TailBuffer", "decoder"]

#: Messages the dashboard keeps by default.
DEFAULT_BUFFER_SIZE = 10_000

FilterErrorCallback = Callable[[Event, BaseException], None]
Decode = Callable[[Event], Event]


def _as_is(event: Event) -> Event:
    return event


def decoder(key: Codec, value: Codec) -> Decode:
    """Decode a raw event's key and value with these codecs.

    An event whose key or value is no longer the message's own bytes object was
    decoded already (a ``--script`` transform, or a source that stores decoded
    events) and is returned as it is.
    """
    key_decode, value_decode = key.decode, value.decode

    def decode(event: Event) -> Event:
        m = event.message
        if event.key is not m.key or event.value is not m.value:
            return event
        return Event(m, key_decode(m.key), value_decode(m.value))

    return decode


class TailBuffer:
    """The last ``maxlen`` messages, and the last ``maxlen`` that match the filter."""

    def __init__(self, maxlen: int = DEFAULT_BUFFER_SIZE, decode: Decode = _as_is) -> None:
        if maxlen < 1:
            raise ValueError("the tail buffer must hold at least one message")
        self.maxlen = maxlen
        #: Turns a stored event into one with its key and value decoded.
        self.decode = decode
        self._ring: deque[Event] = deque(maxlen=maxlen)
        self._view: deque[Event] = self._ring
        #: Events added since the start, matching or not.
        self.received = 0
        #: Events appended to the view since the last rebuild.
        self.shown = 0
        #: Bumped whenever the view is rebuilt (a new filter).
        self.generation = 0
        #: The filter expression (the ``--where`` language), or None.
        self.expression: str | None = None
        self._where: Where | None = None
        #: Messages on which the filter raised (counted as not matching).
        self.filter_errors = 0
        #: Told about filter errors (the session reports the first few).
        self.on_filter_error: FilterErrorCallback | None = None

    # -- the tail stream's side (per message) -------------------------------------

    def add(self, event: Event) -> None:
        """Append one message.  Caller: the tail stream's reader, per message."""
        self._ring.append(event)
        self.received += 1
        if self._where is None:
            self.shown += 1
        elif self._matches(event):
            self._view.append(event)
            self.shown += 1

    def _matches(self, event: Event) -> bool:
        where = self._where
        if where is None:
            return True
        try:
            return bool(where(ConsumedRecord.from_event(self.decode(event))))
        except USER_CODE_ERRORS as exc:  # a filter that fails on one message: not a match
            self.filter_errors += 1
            if self.on_filter_error is not None:
                self.on_filter_error(event, exc)
            return False

    # -- the dashboard's side -------------------------------------------------------

    def set_filter(self, expression: str | None) -> None:
        """Filter the view with a ``--where`` expression (None or blank: no filter).

        Raises ``FilterSyntaxError`` (with a caret under the position) and changes
        nothing if the expression does not compile.
        """
        text = (expression or "").strip()
        where = compile_where([text]) if text else None
        self._where = where
        self.expression = text or None
        self.filter_errors = 0
        if where is None:
            self._view = self._ring
        else:
            self._view = deque((e for e in self._ring if self._matches(e)), maxlen=self.maxlen)
        self.shown = len(self._view)
        self.generation += 1

    @property
    def view(self) -> Sequence[Event]:
        """The matching messages, oldest first (a live deque: copy it to keep it)."""
        return self._view

    @property
    def evicted(self) -> int:
        """Events that fell off the front of the view since the last rebuild."""
        return self.shown - len(self._view)

    def __len__(self) -> int:
        return len(self._view)

    def clear(self) -> None:
        """Forget every message (the filter stays)."""
        self._ring.clear()
        if self._view is not self._ring:
            self._view.clear()
        self.shown = 0
        self.generation += 1
