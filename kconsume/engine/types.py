"""Value types shared by every part of the engine: topic-partitions, records, messages.

Offset convention (see docs/architecture.md): every stored offset means "the next
offset to consume"; ranges are half-open ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .offsets import PartitionState, Slice

__all__ = ["TP", "Event", "Headers", "Message", "Record"]

Headers = Sequence[tuple[str, bytes | None]]


class TP(NamedTuple):
    """A topic-partition."""

    topic: str
    """Topic name."""
    partition: int
    """Partition number."""

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(slots=True, frozen=True)
class Record:
    """One record as a driver returns it, before the engine tracks it."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """Milliseconds since the epoch, as the broker or producer stamped it (-1 if unknown)."""
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


class Message:
    """A record the Consumer has delivered, with its reference count.

    Created by ``PartitionState.deliver`` for every record of a delivered slice.  The
    Conductor sets ``refcount`` to the number of streams that will see it; each
    stream calls :meth:`decref` when the code iterating it is done, and the
    stream that brings it to zero calls ``Consumer.ack(message)``.
    """

    __slots__ = (
        "acked",
        "headers",
        "key",
        "offset",
        "refcount",
        "slice",
        "timestamp",
        "tp",
        "value",
    )

    def __init__(
        self,
        tp: TP,
        offset: int,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        slice_: Slice | None = None,
    ) -> None:
        self.tp = tp
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
        #: Streams still holding it; set by the Conductor before delivery.
        self.refcount = 0
        #: Settled in its partition's bookkeeping (set by ``PartitionState.ack`` only).
        self.acked = False
        #: The delivered slice it belongs to (None: not tracked, or dropped).  A revoke
        #: detaches the slice's state, so late acks of a revoked generation change nothing.
        self.slice = slice_

    @property
    def state(self) -> PartitionState | None:
        """The partition bookkeeping it is tracked by (None: untracked or dropped)."""
        slice_ = self.slice
        return slice_.state if slice_ is not None else None

    @property
    def delivered_at(self) -> float | None:
        """``time.monotonic()`` when its slice was delivered (None: untracked or dropped)."""
        slice_ = self.slice
        return slice_.delivered_at if slice_ is not None else None

    @property
    def topic(self) -> str:
        return self.tp.topic

    @property
    def partition(self) -> int:
        return self.tp.partition

    def decref(self) -> bool:
        """Drop one reference; True when this call released the last one.

        Caller: ``Stream`` (in its iterator's ``finally``) and the Conductor for
        streams that never receive the message (decode errors).
        """
        refcount = self.refcount - 1
        if refcount < 0:  # a double release is a bug upstream; never go negative
            return False
        self.refcount = refcount
        return refcount == 0

    def __repr__(self) -> str:
        return f"<Message {self.tp}@{self.offset} refcount={self.refcount}>"


class Event(NamedTuple):
    """What a stream yields: a message with its key and value decoded by the stream's codecs.

    Streams that share codecs share one Event per message (one decode).  A tuple,
    so the Conductor can build one per message at C speed.
    """

    message: Message
    key: Any
    value: Any

    @property
    def topic(self) -> str:
        return self.message.tp.topic

    @property
    def partition(self) -> int:
        return self.message.tp.partition

    @property
    def offset(self) -> int:
        return self.message.offset

    @property
    def timestamp(self) -> int:
        return self.message.timestamp

    @property
    def headers(self) -> Headers:
        return self.message.headers

    def __repr__(self) -> str:
        return f"<Event {self.message.tp}@{self.message.offset} key={self.key!r}>"
