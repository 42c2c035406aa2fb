"""The transport interface: the few things the engine asks of a Kafka client.

A :class:`Transport` knows where the brokers are and how to reach them; it creates
the :class:`~kconsume.engine.consumer.Consumer` and the :class:`ConsumerDriver` that
the consumer drives.  The driver is deliberately small, so unit tests can drive the
whole engine with an in-process fake, while integration tests use aiokafka against
a real broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ...errors import EndUnknownError, KConsumeError, UnknownTopicError
from ..positions import StartAt
from ..types import TP, Message

if TYPE_CHECKING:
    from ..app import App
    from ..consumer import Consumer

__all__ = [
    "END_CONFIRM_TIMEOUT",
    "ClientDriver",
    "ConsumerDriver",
    "EndUnknownError",
    "KConsumeError",
    "RebalanceHandler",
    "RecordLike",
    "Transport",
    "UnknownTopicError",
    "ends_unconfirmed",
    "unknown_topics",
]

#: Seconds a driver's ``end_offsets`` waits for a fetch to confirm a listed end.
END_CONFIRM_TIMEOUT = 5.0

ClientT = TypeVar("ClientT")


def unknown_topics(missing: Sequence[str], existing: Collection[str]) -> UnknownTopicError:
    """The error a driver's ``start`` raises when the broker lacks some of its topics."""
    return UnknownTopicError(
        f"unknown topic{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
        f"(the broker has {len(existing)} topic{'s' if len(existing) != 1 else ''})"
    )


def ends_unconfirmed(missing: Iterable[TP]) -> EndUnknownError:
    """The error a driver's ``end_offsets`` raises when no fetch confirmed these ends."""
    names = ", ".join(str(tp) for tp in sorted(missing))
    return EndUnknownError(
        f"could not confirm the end offset of {names}: no fetch answered in "
        f"{END_CONFIRM_TIMEOUT:g}s"
    )


class RecordLike(Protocol):
    """What the engine reads from a fetched record (aiokafka's ConsumerRecord fits)."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class RebalanceHandler(Protocol):
    """Told by the driver about group rebalances (the Consumer implements it)."""

    async def on_rebalance_started(self) -> None: ...
    async def on_partitions_revoked(self, revoked: set[TP]) -> None: ...
    async def on_partitions_assigned(self, assigned: set[TP]) -> None: ...


class ConsumerDriver(Protocol):
    """A Kafka consumer client as the engine uses it.

    Offsets follow the engine convention: "next offset to consume".
    """

    async def start(self, topics: Iterable[str]) -> None:
        """Connect, check the topics exist, subscribe, and begin reporting rebalances."""

    async def stop(self) -> None:
        """Leave the group (if any) and close connections."""

    async def getmany(self, timeout: float) -> Mapping[TP, Sequence[RecordLike]]:
        """Records fetched since the last call, per partition, in offset order."""

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        """Commit ``offsets`` for the group; raise on failure."""

    async def committed(self, tps: Iterable[TP]) -> dict[TP, int | None]:
        """The group's committed offsets (None where the group has none)."""

    def highwater(self, tp: TP) -> int | None:
        """The partition's log end offset as of the last fetch, if known."""

    def fetch_end(self, tp: TP) -> int | None:
        """Where a fetch can read up to, as of the last fetch: the last stable offset
        under ``read_committed`` (records of open transactions are not readable yet),
        else the highwater.  None before the first fetch."""

    def fetch_positions(self) -> Mapping[TP, int]:
        """The next offset to fetch of every assigned partition, without waiting.

        Every offset below it was returned by :meth:`getmany` or held no data record
        (a transaction marker, an aborted or compacted-away record).  Read right after
        ``getmany`` returns; partitions whose position is not known yet are missing.
        """

    async def position(self, tp: TP) -> int | None:
        """The next offset the driver will fetch for ``tp`` (None if not assigned)."""

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """The partitions' readable ends now: ListOffsets(latest), confirmed by a fetch.

        Raises ``EndUnknownError`` when an end cannot be confirmed: a caller must
        never take a short end for the real one.
        """

    async def listed_end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """ListOffsets(latest) alone: a lower bound of the end, for callers whose own
        fetches report the end (``consume -e``)."""

    async def start_offsets(self, tps: Iterable[TP], start: StartAt) -> dict[TP, int]:
        """Concrete offsets for a start position (beginning, end, N, -N, @TIME)."""

    def seek(self, tp: TP, offset: int) -> None:
        """Fetch ``tp`` from ``offset`` next."""

    def pause(self, tps: Iterable[TP]) -> None:
        """Stop fetching these partitions until :meth:`resume`."""

    def resume(self, tps: Iterable[TP]) -> None:
        """Fetch these partitions again."""

    @property
    def group_id(self) -> str | None: ...

    @property
    def generation(self) -> int | None: ...

    @property
    def member_id(self) -> str | None: ...


MessageCallback = Callable[[Message], Awaitable[None] | None]
#: Delivers a slice: consecutive messages of one partition, in offset order.
SliceCallback = Callable[[list[Message]], None]
PartitionsCallback = Callable[[set[TP]], Awaitable[None]]


class ClientDriver(Generic[ClientT]):
    """What every driver keeps the same way: its group and the client ``start`` makes.

    Subclasses set ``_group_id`` and ``_client`` (None until started, and again once
    closed) in their constructor and lifecycle methods.
    """

    _group_id: str | None
    _client: ClientT | None

    @property
    def client(self) -> ClientT:
        """The started client; KConsumeError before ``start`` (or after ``stop``)."""
        if self._client is None:
            raise KConsumeError("the Kafka client is not started")
        return self._client

    @property
    def group_id(self) -> str | None:
        return self._group_id


class Transport:
    """Where the brokers are, and a factory for consumers and drivers.

    Subclasses implement :meth:`create_driver`; the app reaches its transport as
    ``app.transport`` and a consumer reaches the app as ``consumer.transport.app``.
    """

    def __init__(self, url: str, app: App | None = None, **settings: Any) -> None:
        self.url = url
        self.app = app
        self.settings = settings

    def consumer_class(self) -> type[Consumer]:
        """The Consumer class of this transport (its ``consumer_stopped_errors``).

        Every transport names its own: the base class would not know which exceptions
        its client raises once stopped.
        """
        raise NotImplementedError

    def create_consumer(
        self,
        callback: MessageCallback,
        on_partitions_revoked: PartitionsCallback,
        on_partitions_assigned: PartitionsCallback,
        **kwargs: Any,
    ) -> Consumer:
        """Create the engine Consumer for this transport.  Caller: ``App``."""
        return self.consumer_class()(
            self, callback, on_partitions_revoked, on_partitions_assigned, **kwargs
        )

    def create_driver(self, handler: RebalanceHandler) -> ConsumerDriver:
        """Create the client the consumer drives.  Caller: ``Consumer.__init__``."""
        raise NotImplementedError
