"""Looking at a consumer group from outside it, without ever joining it.

A :class:`GroupSession` holds two clients:

* a **reader** with no group (the engine's :class:`AIOKafkaDriver`, manual
  assignment), for the log: its start and end (confirmed by a fetch, as the engine
  does), offsets for a time, and the records themselves;
* a **group client**, an ``AIOKafkaConsumer(group_id=GROUP)`` that never subscribes:
  it reads the group's committed offsets with ``committed()`` and commits for the
  group with ``assign()`` + ``commit()``.  Without a subscription it never sends
  JoinGroup, so it never takes part in the group; the broker takes its commits
  only while the group has no members (generation -1).

Members are read with the admin client's DescribeGroups, which needs no membership.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaConnectionError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
    for_code,
)

from ..engine.transport.aiokafka import (
    AIOKafkaDriver,
    BrokerUnreachableError,
    bootstrap_servers,
    client_settings,
)
from ..engine.transport.base import RecordLike
from ..engine.transport.diagnose import connect_failure
from ..engine.types import TP
from ..errors import KConsumeError
from .selection import Selection

__all__ = [
    "GroupActiveError",
    "GroupSession",
    "GroupState",
    "Member",
    "active_message",
    "open_session",
]

#: Group states in which members are joining or syncing (no member list yet).
REBALANCING = frozenset({"PreparingRebalance", "CompletingRebalance", "AwaitingSync"})
#: aiokafka logs a refused commit as an error before raising it.
_COORDINATOR_LOG = "aiokafka.consumer.group_coordinator"
#: How long reading a range of records may go without a record before it is an error.
READ_TIMEOUT = 15.0


class GroupActiveError(KConsumeError):
    """The group has members: its offsets are theirs to commit."""


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    client_id: str
    client_host: str

    def __str__(self) -> str:
        where = " on ".join(part for part in (self.client_id, self.client_host) if part)
        return f"{self.member_id} ({where})" if where else self.member_id


@dataclass(frozen=True, slots=True)
class GroupState:
    state: str
    members: tuple[Member, ...]

    @property
    def active(self) -> bool:
        return bool(self.members) or self.state in REBALANCING


class _NoRebalances:
    """The reader has no group: it only hears about its own manual assignment."""

    async def on_rebalance_started(self) -> None:
        pass

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        pass


def described_group(responses: Iterable[Any], group: str) -> tuple[int, Any, Any] | None:
    """(error code, state, members) of ``group`` in DescribeGroups ``responses``; None
    if no response names it.  A member row is (member id, client id, host, metadata,
    assignment), as aiokafka decodes it."""
    for response in responses:
        for described in response.groups:
            if described[1] == group:
                return described[0], described[2], described[5]
    return None


def _admin_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the admin client accepts (it has no session or fetch settings)."""
    accepted = inspect.signature(AIOKafkaAdminClient.__init__).parameters
    return {k: v for k, v in settings.items() if k in accepted}


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _kafka_tp(tp: TP) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


class GroupSession:
    """One topic (or some of its partitions) and one group, from outside the group."""

    def __init__(
        self,
        group: str,
        tps: list[TP],
        reader: AIOKafkaDriver,
        client: AIOKafkaConsumer,
        servers: list[str],
        settings: dict[str, Any],
    ) -> None:
        self.group = group
        self.tps = tps
        self._reader = reader
        self._client = client
        self._servers = servers
        self._settings = settings

    # -- the group ----------------------------------------------------------------

    async def committed(self) -> dict[TP, int | None]:
        """The group's committed offset per partition (None where it has none)."""
        out: dict[TP, int | None] = {}
        for tp in self.tps:
            try:
                offset = await self._client.committed(_kafka_tp(tp))
            except KafkaError as exc:
                raise KConsumeError(
                    f"cannot read the committed offsets of group {self.group}: {exc}"
                ) from None
            out[tp] = offset if isinstance(offset, int) and offset >= 0 else None
        return out

    async def describe(self) -> GroupState:
        """The group's state and members, by DescribeGroups (no membership needed)."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._servers, **_admin_settings(self._settings)
        )
        try:
            await admin.start()
            responses = await admin.describe_consumer_groups([self.group])
        except KafkaError as exc:
            raise KConsumeError(f"cannot describe group {self.group}: {exc}") from None
        finally:
            await admin.close()
        found = described_group(responses, self.group)
        if found is None:
            return GroupState("Dead", ())
        error_code, state, members = found
        if error_code:
            raise KConsumeError(
                f"cannot describe group {self.group}: {for_code(error_code).__name__}"
            )
        return GroupState(
            str(state), tuple(Member(str(m[0]), str(m[1]), str(m[2])) for m in members)
        )

    async def check_inactive(self) -> None:
        """Raise :class:`GroupActiveError` if the group has members or is rebalancing."""
        state = await self.describe()
        if state.active:
            raise GroupActiveError(active_message(self.group, state))

    async def commit(self, offsets: Mapping[TP, int]) -> dict[TP, int | None]:
        """Commit ``offsets`` for the group; returns what the broker has afterwards."""
        if not offsets:
            return {}
        kafka_tps = [_kafka_tp(tp) for tp in offsets]
        self._client.assign(kafka_tps)
        self._client.pause(*kafka_tps)  # never fetch: this client only commits
        try:
            with _quiet(_COORDINATOR_LOG):  # a refusal is reported below, in one line
                await self._client.commit({_kafka_tp(tp): o for tp, o in offsets.items()})
        except (
            CommitFailedError,
            UnknownMemberIdError,
            IllegalGenerationError,
            RebalanceInProgressError,
        ) as exc:
            raise GroupActiveError(
                f"the broker refused the commit for group {self.group}: it has active members "
                f"now ({type(exc).__name__})"
            ) from None
        except KafkaError as exc:
            raise KConsumeError(f"commit for group {self.group} failed: {exc}") from None
        saved = await self.committed()
        return {tp: saved[tp] for tp in offsets}

    # -- the log ------------------------------------------------------------------

    async def bounds(self) -> dict[TP, tuple[int, int]]:
        """``(log start, log end)`` per partition; the end confirmed by a fetch."""
        begin = await self._reader.client.beginning_offsets([_kafka_tp(tp) for tp in self.tps])
        ends = await self._reader.end_offsets(self.tps)
        return {tp: (begin[_kafka_tp(tp)], ends[tp]) for tp in self.tps}

    async def offsets_for_time(
        self, time_ms: int, bounds: Mapping[TP, tuple[int, int]]
    ) -> dict[TP, tuple[int, bool]]:
        """Per partition, the first offset whose record is at or after ``time_ms``.

        ``(offset, found)``: ``found`` is False when no record is that recent (the
        offset is then the log end).  A broker that answers without a timestamp
        (Tansu gives -1) is checked by reading the partition's timestamps.
        """
        found = await self._reader.client.offsets_for_times(
            {_kafka_tp(tp): time_ms for tp in self.tps}
        )
        out: dict[TP, tuple[int, bool]] = {}
        unsure: list[TP] = []
        for tp in self.tps:
            hit = found.get(_kafka_tp(tp))
            if hit is None:
                out[tp] = (bounds[tp][1], False)
            elif hit.timestamp < 0:
                unsure.append(tp)
            else:
                out[tp] = (int(hit.offset), True)
        if unsure:
            records = await self.read(
                {tp: bounds[tp] for tp in unsure},
                stop=lambda _tp, got: bool(got) and got[-1].timestamp >= time_ms,
            )
            for tp in unsure:
                first = next((r.offset for r in records[tp] if r.timestamp >= time_ms), None)
                out[tp] = (bounds[tp][1], False) if first is None else (first, True)
        return out

    async def read(
        self,
        ranges: Mapping[TP, tuple[int, int]],
        stop: Callable[[TP, Sequence[RecordLike]], bool] | None = None,
    ) -> dict[TP, list[RecordLike]]:
        """The records of ``[start, end)`` per partition, in offset order.

        Reading a partition ends at ``end`` or as soon as ``stop(tp, records so
        far)`` is true.  Records may be missing inside a range (compaction,
        transaction markers); the range still ends where it should.
        """
        client = self._reader.client
        out: dict[TP, list[RecordLike]] = {tp: [] for tp in ranges}
        active: dict[TopicPartition, TP] = {}
        for tp, (start, end) in ranges.items():
            if start < end:
                kafka_tp = _kafka_tp(tp)
                client.seek(kafka_tp, start)
                client.resume(kafka_tp)
                active[kafka_tp] = tp
        loop = asyncio.get_running_loop()
        progress = loop.time()
        try:
            while active:
                if loop.time() - progress > READ_TIMEOUT:
                    late = ", ".join(str(tp) for tp in active.values())
                    raise KConsumeError(f"no records from {late} for {READ_TIMEOUT:.0f} s")
                batch = await client.getmany(*active, timeout_ms=100)
                if batch:
                    progress = loop.time()
                for kafka_tp, records in batch.items():
                    reading = active.get(kafka_tp)
                    if reading is None:
                        continue
                    end = ranges[reading][1]
                    got = out[reading]
                    for record in records:
                        if record.offset >= end:
                            break
                        got.append(record)
                        if stop is not None and stop(reading, got):
                            break
                for kafka_tp, tp in list(active.items()):
                    end = ranges[tp][1]
                    got = out[tp]
                    finished = bool(got) and (
                        got[-1].offset >= end - 1 or (stop is not None and stop(tp, got))
                    )
                    if not finished:
                        finished = await client.position(kafka_tp) >= end
                    if finished:
                        client.pause(kafka_tp)
                        del active[kafka_tp]
        finally:
            client.pause(*active)
        return out


def active_message(group: str, state: GroupState) -> str:
    n = len(state.members)
    if n:
        shown = ", ".join(str(m) for m in state.members[:3]) + (", ..." if n > 3 else "")
        who = f"{n} active member{'s' if n > 1 else ''} ({shown})"
    else:
        who = f"members joining ({state.state})"
    return (
        f"group {group} has {who}: stop its consumers first (a consumer that stopped without "
        "leaving the group stays a member until its session times out)"
    )


@asynccontextmanager
async def open_session(
    url: str, group: str, selection: Selection, settings: Mapping[str, Any]
) -> AsyncIterator[GroupSession]:
    """Connect both clients for ``selection``; the topic and partitions must exist."""
    servers = bootstrap_servers(url)
    client_kwargs = client_settings(settings)
    reader = AIOKafkaDriver(
        _NoRebalances(),
        servers,
        group_id=None,
        client_id="kconsume-groups",
        auto_offset_reset="earliest",
        partitions=selection.partitions,
        settings=client_kwargs,
    )
    client = AIOKafkaConsumer(
        bootstrap_servers=servers,
        group_id=group,
        client_id="kconsume-groups",
        enable_auto_commit=False,
        **client_kwargs,
    )
    try:
        await reader.start([selection.topic])  # unreachable broker, unknown topic/partition
        tps = sorted(TP(tp.topic, tp.partition) for tp in reader.client.assignment())
        reader.pause(tps)  # fetch only what read() asks for
        try:
            await client.start()
        except (KafkaConnectionError, KeyError) as exc:  # KeyError: a refused SCRAM login
            message = await connect_failure(exc, servers, client_kwargs)
            if message is None:
                raise
            raise BrokerUnreachableError(message) from None
        yield GroupSession(group, tps, reader, client, servers, client_kwargs)
    finally:
        await client.stop()
        await reader.stop()


def partitions_text(tps: Iterable[TP]) -> str:
    return ", ".join(str(tp.partition) for tp in tps)
