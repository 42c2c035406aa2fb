"""Stream: an async iterator over the events of one or more topics.

The Conductor puts events into a stream's buffer; the code iterating the stream
takes them one at a time.  When that code is done with an event (the loop body
ends, ``continue``, ``break`` or an exception), the iterator's ``finally`` drops the
stream's reference to the message, and the stream that drops the last one acks it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .codecs import Codec
from .types import TP, Event, Message

if TYPE_CHECKING:
    from .consumer import Consumer

__all__ = ["Stream", "StreamSnapshot"]

DEFAULT_BUFFER_MAXSIZE = 4096


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(slots=True, frozen=True)
class StreamSnapshot:
    """A stream's state at one moment.  Built by :meth:`Stream.snapshot`."""

    name: str
    topics: tuple[str, ...]
    key_codec: str
    value_codec: str
    buffer_depth: int
    buffer_maxsize: int
    paused: bool
    processed: int
    decode_errors: int
    prefiltered: int
    current: TP | None
    current_offset: int | None
    current_for: float | None
    """Seconds the stream has been on its current message."""
    held: int
    """Messages this stream holds a reference to (buffered plus current)."""
    held_offsets: dict[TP, int]
    """Per partition, the oldest offset this stream holds."""


class Stream:
    """Events of ``topics`` decoded with ``key_codec``/``value_codec``.

    Declared with ``app.stream(...)``.  A stream has one reader: iterate it from
    one task.  Its buffer holds at most about ``maxsize`` events: when it fills,
    the stream pauses its own partitions at the transport until it has drained
    to half, so one slow stream never stops the fetch loop for the others.
    """

    def __init__(
        self,
        consumer: Consumer,
        topics: Iterable[str],
        *,
        name: str,
        key_codec: Codec,
        value_codec: Codec,
        maxsize: int = DEFAULT_BUFFER_MAXSIZE,
        prefilter: Callable[[Message], bool] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("stream buffer maxsize must be at least 1")
        self.consumer = consumer
        self.topics = tuple(dict.fromkeys(topics))
        if not self.topics:
            raise ValueError("a stream needs at least one topic")
        self.name = name
        self.key_codec = key_codec
        self.value_codec = value_codec
        self.maxsize = maxsize
        #: Runs on the raw message before decoding; False skips it for this stream.
        self.prefilter = prefilter
        self._resume_at = maxsize // 2
        self._buffer: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._stopped = False
        self._iterating = False
        #: Events the reader has finished with.
        self.processed = 0
        #: Messages skipped because this stream's codecs could not decode them.
        self.decode_errors = 0
        #: Messages the prefilter skipped, and prefilter calls that raised (also skipped).
        self.prefiltered = 0
        self.prefilter_errors = 0
        #: The event the reader is on; for :meth:`take`, the oldest event of its batch.
        self.current: Event | None = None
        #: What observers saw (:meth:`current_since`): the event the reader was on at the
        #: last look, since when, and when that look was (``time.monotonic()``).  The
        #: reader itself never reads the clock.
        self._seen: Event | None = None
        self._since = self._last_look = time.monotonic()
        #: The batch the reader is on (:meth:`take`); empty otherwise.
        self._batch: list[Event] = []
        #: The reader's iterator (``async for`` or :meth:`take`), for :meth:`reader`;
        #: weak, so that an iterator left by a ``break`` is still finalized (and acks).
        self._reader: weakref.ref[AsyncGenerator[object, None]] | None = None

    def __repr__(self) -> str:
        return f"<Stream {self.name} topics={list(self.topics)}>"

    # -- the Conductor's side ------------------------------------------------

    def accepts(self, message: Message) -> bool:
        """Run the prefilter on the raw message.  Caller: Conductor, before decoding."""
        prefilter = self.prefilter
        if prefilter is None:
            return True
        try:
            if prefilter(message):
                return True
        except Exception:
            self.prefilter_errors += 1
        self.prefiltered += 1
        return False

    def put(self, event: Event) -> None:
        """Append an event.  Caller: ``Conductor.on_message`` (per message; no await)."""
        self._buffer.append(event)
        self._added()

    def put_many(self, events: list[Event]) -> None:
        """Append a slice's events.  Caller: ``Conductor.on_slice`` (per slice; no await).

        The buffer may pass ``maxsize`` by less than a slice before the stream pauses.
        """
        self._buffer.extend(events)
        self._added()

    def _added(self) -> None:
        """Wake the reader, and pause the stream's partitions if the buffer is full."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if len(self._buffer) >= self.maxsize and not self._paused:
            self._pause()

    def purge(self, tps: set[TP]) -> list[Event]:
        """Remove and return the buffered events of ``tps``.  Caller: Conductor on revoke/stop."""
        if not self._buffer:
            return []
        kept: deque[Event] = deque()
        removed: list[Event] = []
        for event in self._buffer:
            (removed if event.message.tp in tps else kept).append(event)
        self._buffer = kept
        if self._paused and len(kept) <= self._resume_at:
            self._resume()
        return removed

    def remove(self, message: Message) -> bool:
        """Take ``message``'s event out of the buffer (a skip).  Caller: ``App.skip``."""
        for event in self._buffer:
            if event.message is message:
                self._buffer.remove(event)
                if self._paused and len(self._buffer) <= self._resume_at:
                    self._resume()  # else nothing would resume it: the reader only pops
                return True
        return False

    def stop(self) -> None:
        """End iteration once the buffer is empty.  Caller: ``App.stop``."""
        self._stopped = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def holds(self, message: Message) -> bool:
        """True while this stream is on ``message`` or has it buffered (O(buffer))."""
        current = self.current
        if current is not None and current.message is message:
            return True
        if any(event.message is message for event in self._batch):
            return True
        return any(event.message is message for event in self._buffer)

    def in_hand(self) -> list[Message]:
        """The messages the reader is on now: its event, or its whole :meth:`take` batch.

        Caller: ``App.stop``, to drop what a stop interrupts.
        """
        if self._batch:
            return [event.message for event in self._batch]
        return [self.current.message] if self.current is not None else []

    def tps(self) -> list[TP]:
        """The assigned partitions of this stream's topics."""
        topics = self.topics
        return [tp for tp in self.consumer.assignment() if tp.topic in topics]

    @property
    def buffered(self) -> int:
        """Events waiting in the buffer (0: the next read will wait for the fetcher)."""
        return len(self._buffer)

    @property
    def paused(self) -> bool:
        return self._paused

    def _pause(self) -> None:
        self._paused = True
        self.consumer.pause_partitions(self.tps(), self.name)

    def _resume(self) -> None:
        self._paused = False
        self.consumer.resume_partitions(self.tps(), self.name)

    # -- the reader's side ---------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        reader = self._events()
        if not self._iterating:
            self._reader = weakref.ref(reader)
        return reader

    def reader(self) -> AsyncGenerator[object, None] | None:
        """The reader's iterator (``async for`` or :meth:`take`) while it lives.

        Caller: the App's agent runner, which holds it when it cancels a loop body (time
        limit, skip) and then closes it (``aclose()``), as a ``break`` would: its
        ``finally`` releases, and so acks, the message or batch the body was on, and the
        agent can start a new ``async for`` over this stream.
        """
        return self._reader() if self._reader is not None else None

    async def _events(self) -> AsyncGenerator[Event, None]:
        if self._iterating:
            raise RuntimeError(
                f"stream {self.name!r} already has a reader; declare another stream "
                "to read the same topic twice"
            )
        self._iterating = True
        ack = self.consumer.ack
        try:
            while True:
                buffer = self._buffer
                if not buffer:
                    if self._stopped:
                        return
                    await self._wait()
                    continue
                event = buffer.popleft()
                if self._paused and len(buffer) <= self._resume_at:
                    self._resume()
                message = event.message
                self.current = event
                try:
                    yield event
                finally:
                    self.current = None
                    self.processed += 1
                    refcount = message.refcount - 1  # Message.decref, inlined: per message
                    if refcount >= 0:
                        message.refcount = refcount
                        if refcount == 0:
                            ack(message)
        finally:
            self._iterating = False

    def take(self, max_: int, within: float) -> AsyncGenerator[list[Event], None]:
        """Iterate in batches: lists of up to ``max_`` events, as Faust's ``Stream.take``.

        A batch is yielded once it holds ``max_`` events, or ``within`` seconds after its
        first event arrived, whichever comes first (an idle stream yields nothing).  Each
        message of a batch is released when the loop body is done with the whole list, so
        no offset of a batch is committed before the batch was processed.  Like ``async
        for event in stream``, one reader at a time.
        """
        reader = self._batches(max_, within)
        if not self._iterating:
            self._reader = weakref.ref(reader)
        return reader

    async def _batches(self, max_: int, within: float) -> AsyncGenerator[list[Event], None]:
        if max_ < 1:
            raise ValueError("take() needs max_ >= 1")
        if self._iterating:
            raise RuntimeError(
                f"stream {self.name!r} already has a reader; declare another stream "
                "to read the same topic twice"
            )
        self._iterating = True
        loop = asyncio.get_running_loop()
        ack = self.consumer.ack
        buffer = self._buffer
        try:
            while True:
                if not buffer:
                    if self._stopped:
                        return
                    await self._wait()
                    continue
                batch = self._batch = []
                deadline = loop.time() + within
                while len(batch) < max_:
                    if buffer:
                        wanted = max_ - len(batch)
                        if len(buffer) <= wanted:  # all of it, at C speed
                            batch.extend(buffer)
                            buffer.clear()
                        else:
                            popleft = buffer.popleft
                            batch.extend([popleft() for _ in range(wanted)])
                        if self._paused and len(buffer) <= self._resume_at:
                            self._resume()  # before waiting for more: else none would come
                        continue
                    if self._stopped or loop.time() >= deadline:
                        break
                    await self._wait(deadline)
                self.current = batch[0]
                try:
                    yield batch
                finally:
                    self.current = None
                    self._batch = []
                    self.processed += len(batch)
                    # The release of __aiter__, written again on purpose: a call per
                    # message here is measurable in ``make bench`` (take(500) row).
                    for event in batch:
                        message = event.message
                        refcount = message.refcount - 1  # Message.decref, inlined: per message
                        if refcount >= 0:
                            message.refcount = refcount
                            if refcount == 0:
                                ack(message)
        finally:
            self._iterating = False

    async def _wait(self, deadline: float | None = None) -> None:
        """Wait for :meth:`put`, :meth:`put_many` or :meth:`stop`, or until ``deadline``
        (``loop.time()``): a timer on the waiter itself, no task per wait."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        timer = loop.call_at(deadline, _wake, waiter) if deadline is not None else None
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if self._waiter is waiter:
                self._waiter = None

    # -- observers -------------------------------------------------------------

    def current_since(self, now: float) -> float | None:
        """Since when the reader has been on its current event (None: on none).

        Caller: the Watchdog, every tick, and :meth:`snapshot`.  The reader does not read
        the clock per event; observers work it out: an event first seen now was started
        after the previous look (when the reader was elsewhere) and after its delivery,
        so the later of the two is when it started, to within one look's interval.
        """
        current = self.current
        if current is not self._seen:
            start = self._last_look
            delivered = current.message.delivered_at if current is not None else None
            if delivered is not None and delivered > start:
                start = delivered
            self._seen, self._since = current, start
        self._last_look = now
        return self._since if current is not None else None

    def snapshot(self, now: float | None = None) -> StreamSnapshot:
        """A cheap copy of this stream's state (O(buffered partitions))."""
        if now is None:
            now = time.monotonic()
        current = self.current
        since = self.current_since(now)
        held_offsets: dict[TP, int] = {}
        for event in self._batch or ([current] if current is not None else []):
            tp = event.message.tp
            if tp not in held_offsets:
                held_offsets[tp] = event.message.offset
        for event in self._buffer:
            tp = event.message.tp
            if tp not in held_offsets:
                held_offsets[tp] = event.message.offset
        return StreamSnapshot(
            name=self.name,
            topics=self.topics,
            key_codec=self.key_codec.name,
            value_codec=self.value_codec.name,
            buffer_depth=len(self._buffer),
            buffer_maxsize=self.maxsize,
            paused=self._paused,
            processed=self.processed,
            decode_errors=self.decode_errors,
            prefiltered=self.prefiltered,
            current=current.message.tp if current is not None else None,
            current_offset=current.message.offset if current is not None else None,
            current_for=now - since if since is not None else None,
            held=len(self._buffer) + (len(self._batch) or (current is not None)),
            held_offsets=held_offsets,
        )
