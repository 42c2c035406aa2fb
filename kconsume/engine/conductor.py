"""Conductor: routes every delivered message to the streams subscribed to its topic.

For each topic it keeps a delivery plan: the subscribed streams grouped by their
(key codec, value codec) pair.  A message is decoded once per group, and the one
Event is shared by every stream of the group.  The message's refcount is set to the
number of subscribed streams before any stream can see it.

The Consumer hands over a slice of one partition's messages at a time
(:meth:`Conductor.on_slice`): each stream gets the slice's events in one
``Stream.put_many`` call, so the work left per message is its decode and its Event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .codecs import Codec, codec
from .events import DecodeError, EventBus
from .stream import Stream
from .types import TP, Event, Message

if TYPE_CHECKING:
    from .consumer import Consumer

__all__ = ["Conductor"]


@dataclass(slots=True, frozen=True)
class _CodecGroup:
    decode_key: Callable[[bytes], Any] | None
    """None for the raw codec: the bytes are the key."""
    decode_value: Callable[[bytes], Any] | None
    streams: tuple[Stream, ...]
    prefiltered: bool
    """True if any stream of the group has a prefilter (checked before decoding)."""


@dataclass(slots=True, frozen=True)
class _Plan:
    refcount: int
    groups: tuple[_CodecGroup, ...]


_RAW = codec("raw")


def _decoder(codec_: Codec) -> Callable[[bytes], Any] | None:
    return None if codec_ is _RAW else codec_.decode_bytes


class Conductor:
    """Forwards messages from the Consumer to Streams.  Created by the App.

    It publishes decode errors on ``events`` and acks, drops and pauses through the
    consumer it is bound to (:meth:`bind`: the consumer is created with this
    conductor's ``on_message`` as its callback, so it comes second).
    """

    def __init__(self, events: EventBus) -> None:
        self.events = events
        self._consumer: Consumer | None = None
        self._streams: list[Stream] = []
        self._plans: dict[str, _Plan] = {}
        #: Per topic, the compiled delivery function of its plan, for one message and
        #: for a slice (messages of one partition, in offset order).
        self._handlers: dict[str, Callable[[Message], None]] = {}
        self._slice_handlers: dict[str, Callable[[list[Message]], None]] = {}

    def bind(self, consumer: Consumer) -> None:
        """Caller: ``App.__init__``, once the consumer exists."""
        self._consumer = consumer

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("the conductor is not bound to a consumer yet")
        return self._consumer

    @property
    def streams(self) -> tuple[Stream, ...]:
        return tuple(self._streams)

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._plans)

    def add(self, stream: Stream) -> None:
        """Subscribe a stream to its topics.  Caller: ``App.stream``."""
        self._streams.append(stream)
        self._rebuild_plans()

    def _rebuild_plans(self) -> None:
        by_topic: dict[str, dict[tuple[int, int], list[Stream]]] = {}
        for stream in self._streams:
            for topic in stream.topics:
                key = (id(stream.key_codec), id(stream.value_codec))
                by_topic.setdefault(topic, {}).setdefault(key, []).append(stream)
        self._plans = {}
        for topic, groups in by_topic.items():
            plan_groups = tuple(
                _CodecGroup(
                    _decoder(s[0].key_codec),
                    _decoder(s[0].value_codec),
                    tuple(s),
                    any(stream.prefilter is not None for stream in s),
                )
                for s in groups.values()
            )
            self._plans[topic] = _Plan(sum(len(g.streams) for g in plan_groups), plan_groups)
        self._handlers = {topic: self._compile(plan) for topic, plan in self._plans.items()}
        self._slice_handlers = {
            topic: self._compile_slice(plan) for topic, plan in self._plans.items()
        }

    def on_message(self, message: Message) -> None:
        """Deliver one message.  Caller: the Consumer, for every record it fetches.

        Synchronous: the whole delivery happens before any stream can run.
        """
        try:
            handler = self._handlers[message.tp.topic]
        except KeyError:  # no stream reads this topic: nothing to wait for
            self.consumer.ack(message)
            return
        handler(message)

    def on_slice(self, messages: list[Message]) -> None:
        """Deliver a slice: messages of one partition, in offset order.

        Caller: the Consumer, for every slice it fetches (``on_message`` for each
        message, batched).  Synchronous, like ``on_message``.
        """
        try:
            handler = self._slice_handlers[messages[0].tp.topic]
        except KeyError:  # no stream reads this topic: nothing to wait for
            ack = self.consumer.ack
            for message in messages:
                ack(message)
            return
        handler(messages)

    def _compile_slice(self, plan: _Plan) -> Callable[[list[Message]], None]:
        """A slice delivery function for one topic's plan.

        The common case, one codec group and no prefilter, decodes each message once
        and puts the slice's events into every stream of the group in one call; other
        plans fall back to the per-message function.
        """
        if len(plan.groups) != 1 or plan.groups[0].prefiltered:
            deliver = self._compile(plan)

            def deliver_each(messages: list[Message]) -> None:
                for message in messages:
                    deliver(message)

            return deliver_each

        refcount = plan.refcount
        on_decode_error = self._on_decode_error
        group = plan.groups[0]
        decode_key, decode_value, streams = group.decode_key, group.decode_value, group.streams
        puts = tuple(stream.put_many for stream in streams)
        new_event = tuple.__new__  # Event(...) without the Python-level __new__

        def deliver_slice(messages: list[Message]) -> None:
            events: list[Event] = []
            append = events.append
            for message in messages:
                message.refcount = refcount
                key, value = message.key, message.value
                try:
                    if key is not None and decode_key is not None:
                        key = decode_key(key)
                    if value is not None and decode_value is not None:
                        value = decode_value(value)
                except Exception as exc:
                    on_decode_error(message, streams, exc)
                    continue
                append(new_event(Event, (message, key, value)))
            if events:
                for put_many in puts:
                    put_many(events)

        return deliver_slice

    def _compile(self, plan: _Plan) -> Callable[[Message], None]:
        """A delivery function for one topic's plan, message by message (``on_message``,
        and the slices of plans :meth:`_compile_slice` does not batch)."""
        refcount = plan.refcount
        on_decode_error = self._on_decode_error
        ack = self.consumer.ack

        def deliver(message: Message) -> None:
            message.refcount = refcount
            for group in plan.groups:
                streams = group.streams
                if group.prefiltered:
                    streams = tuple(s for s in streams if s.accepts(message))
                    skipped = len(group.streams) - len(streams)
                    if skipped:
                        message.refcount -= skipped
                        if not streams:
                            if message.refcount == 0:
                                ack(message)
                            continue
                key, value = message.key, message.value
                try:
                    if key is not None and group.decode_key is not None:
                        key = group.decode_key(key)
                    if value is not None and group.decode_value is not None:
                        value = group.decode_value(value)
                except Exception as exc:
                    on_decode_error(message, streams, exc)
                    continue
                event = tuple.__new__(Event, (message, key, value))
                for stream in streams:
                    stream.put(event)

        return deliver

    def _on_decode_error(
        self, message: Message, streams: tuple[Stream, ...], exc: Exception
    ) -> None:
        """Skip the message for these streams: count it, report it, release their references."""
        for stream in streams:
            stream.decode_errors += 1
        message.refcount -= len(streams)
        self.events.publish(
            DecodeError(
                tp=message.tp,
                offset=message.offset,
                streams=tuple(s.name for s in streams),
                error=f"{type(exc).__name__}: {exc}",
            )
        )
        if message.refcount <= 0:
            self.consumer.ack(message)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Drop revoked partitions' buffered events.  Caller: the Consumer, via the App."""
        self.drop_buffered(revoked)

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        """New partitions of a stream whose buffer is full start paused."""
        for stream in self._streams:
            if stream.paused:
                tps = [tp for tp in assigned if tp.topic in stream.topics]
                self.consumer.pause_partitions(tps, stream.name)

    def drop_buffered(self, tps: set[TP] | None = None) -> int:
        """Remove buffered (not started) events of ``tps`` (all if None) from every stream.

        Their messages stay uncommitted, to be fetched again.  Returns how many events
        were removed.
        """
        consumer = self.consumer
        removed = 0
        for stream in self._streams:
            events = stream.purge(tps if tps is not None else set(consumer.assignment()))
            removed += len(events)
            for event in events:
                consumer.drop(event.message)
        return removed
