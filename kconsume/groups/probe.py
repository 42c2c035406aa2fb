"""Reading any consumer group from outside, for lag: the broker I/O and nothing else.

:class:`GroupsProbe` never joins a group:

* groups, their states and members come from the admin client (ListGroups,
  DescribeGroups); each member's partitions from its ``member_assignment`` bytes,
  the consumer protocol's assignment (:func:`decode_assignment`);
* committed offsets from OffsetFetch for explicit partitions (the admin client's
  ``list_consumer_group_offsets(partitions=...)``; asked for all partitions at once,
  it fails to decode on Tansu);
* log starts from ListOffsets(earliest), log ends from the engine's confirmed end
  offsets (ListOffsets confirmed by a fetch: a bare ListOffsets is short on Tansu);
* the timestamp of the record at a committed offset by a reader with no group.

:meth:`GroupsProbe.sample` puts one moment of one group together as a
:class:`GroupSample`; judging a window of them is :mod:`.verdict`'s job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaConnectionError, KafkaError

from ..engine.transport.aiokafka import (
    AIOKafkaDriver,
    BrokerUnreachableError,
    bootstrap_servers,
    client_settings,
)
from ..engine.types import TP
from ..errors import KConsumeError, UnknownTopicError
from .session import REBALANCING, _admin_settings, _NoRebalances, described_group
from .verdict import Sample

__all__ = [
    "GroupInfo",
    "GroupSample",
    "GroupsProbe",
    "MemberInfo",
    "decode_assignment",
]

#: How long reading the record at a committed offset may take, per sample.
RECORD_TIMEOUT = 5.0


def decode_assignment(data: bytes) -> tuple[TP, ...] | None:
    """The partitions in a consumer-protocol ``member_assignment`` (None: none given
    or not the consumer protocol)."""
    if not data:
        return None
    try:
        decoded = ConsumerProtocolMemberAssignment.decode(data)
    except Exception:  # a group of another protocol (connect, ...): no partitions to show
        return None
    return tuple(sorted(TP(tp.topic, tp.partition) for tp in decoded.partitions()))


@dataclass(frozen=True, slots=True)
class MemberInfo:
    member_id: str
    client_id: str
    client_host: str
    partitions: tuple[TP, ...] | None
    """None: the broker gave no assignment for this member."""

    @property
    def name(self) -> str:
        """Client id and host when known (what people recognise), else the member id."""
        where = "@".join(p for p in (self.client_id, self.client_host.lstrip("/")) if p)
        return where or self.member_id


@dataclass(frozen=True, slots=True)
class GroupInfo:
    group: str
    state: str
    members: tuple[MemberInfo, ...]

    @property
    def assignments_known(self) -> bool:
        return any(m.partitions is not None for m in self.members)

    @property
    def topics(self) -> set[str]:
        return {tp.topic for m in self.members for tp in m.partitions or ()}

    def owners(self) -> dict[TP, MemberInfo]:
        return {tp: m for m in self.members for tp in m.partitions or ()}


@dataclass(frozen=True, slots=True)
class PartitionSample:
    tp: TP
    sample: Sample
    owner: MemberInfo | None
    record_ts: int | None = None
    """Timestamp (ms) of the record at the committed offset (None: none read)."""


@dataclass(frozen=True, slots=True)
class GroupSample:
    """One group at one moment."""

    at: float
    info: GroupInfo
    partitions: dict[TP, PartitionSample] = field(default_factory=dict)

    def time_lag(self, tp: TP) -> float | None:
        """How old the oldest unread record is, in seconds (0: nothing to read)."""
        p = self.partitions[tp]
        if p.sample.committed is None:
            return None
        if p.sample.lag == 0:
            return 0.0
        if p.record_ts is None or p.record_ts < 0:
            return None
        return max(0.0, self.at - p.record_ts / 1000)


def _kafka(tp: TP) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


class GroupsProbe:
    """One connection set for reading groups; see the module docstring."""

    def __init__(self, url: str, settings: Mapping[str, Any]) -> None:
        self._servers = bootstrap_servers(url)
        self._settings = client_settings(dict(settings))
        self._admin: AIOKafkaAdminClient | None = None
        self._driver: AIOKafkaDriver | None = None
        self._reader: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> GroupsProbe:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._driver = AIOKafkaDriver(
            _NoRebalances(),
            self._servers,
            group_id=None,
            client_id="kconsume-lag",
            auto_offset_reset="earliest",
            partitions=None,
            settings=self._settings,
        )
        await self._driver.start([])  # an unreachable broker is said here
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self._servers, **_admin_settings(self._settings)
        )
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            group_id=None,
            client_id="kconsume-lag",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **{**self._settings, "fetch_max_wait_ms": 100, "max_partition_fetch_bytes": 65536},
        )
        try:
            await self._admin.start()
            await self._reader.start()
        except KafkaConnectionError as exc:
            raise BrokerUnreachableError(
                f"cannot reach a Kafka broker at {','.join(self._servers)} ({exc})"
            ) from None

    async def stop(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
        if self._admin is not None:
            await self._admin.close()
        if self._driver is not None:
            await self._driver.stop()

    @property
    def admin(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            raise KConsumeError("the probe is not started")
        return self._admin

    @property
    def driver(self) -> AIOKafkaDriver:
        if self._driver is None:
            raise KConsumeError("the probe is not started")
        return self._driver

    @property
    def reader(self) -> AIOKafkaConsumer:
        if self._reader is None:
            raise KConsumeError("the probe is not started")
        return self._reader

    # -- groups ---------------------------------------------------------------------

    async def list_groups(self) -> list[str]:
        try:
            listed = await self.admin.list_consumer_groups()
        except KafkaError as exc:
            raise KConsumeError(f"cannot list the consumer groups: {exc}") from None
        return sorted({str(g[0]) for g in listed})

    async def describe(self, groups: Iterable[str]) -> dict[str, GroupInfo]:
        """DescribeGroups, one group per request: Tansu's answer to several at once
        does not decode."""
        wanted = list(dict.fromkeys(groups))
        described = await asyncio.gather(*(self._describe_one(g) for g in wanted))
        return dict(zip(wanted, described, strict=True))

    async def _describe_one(self, group: str) -> GroupInfo:
        try:
            responses = await self.admin.describe_consumer_groups([group])
        except KafkaError as exc:
            raise KConsumeError(f"cannot describe group {group}: {exc}") from None
        found = described_group(responses, group)
        if found is None or found[0]:
            return GroupInfo(group, "Dead", ())
        _, state, members = found
        return GroupInfo(
            group,
            str(state),
            tuple(
                MemberInfo(str(m[0]), str(m[1]), str(m[2]), decode_assignment(m[4]))
                for m in members
            ),
        )

    async def committed(self, group: str, tps: Iterable[TP]) -> dict[TP, int | None]:
        wanted = list(tps)
        if not wanted:
            return {}
        try:
            got = await self.admin.list_consumer_group_offsets(
                group, partitions=[_kafka(tp) for tp in wanted]
            )
        except KafkaError as exc:
            raise KConsumeError(
                f"cannot read the committed offsets of group {group}: {exc}"
            ) from None
        out: dict[TP, int | None] = dict.fromkeys(wanted)
        for tp, meta in got.items():
            key = TP(tp.topic, tp.partition)
            if key in out and meta.offset >= 0:
                out[key] = int(meta.offset)
        return out

    # -- the log --------------------------------------------------------------------

    async def partitions(self, topics: Iterable[str] | None = None) -> list[TP]:
        """The partitions of ``topics`` (None: every topic but internal ones)."""
        client = self.driver.client
        existing = await client.topics()
        if topics is None:
            names = sorted(t for t in existing if not t.startswith("__"))
        else:
            names = list(dict.fromkeys(topics))
            missing = sorted(set(names) - existing)
            if missing:
                raise UnknownTopicError(
                    f"unknown topic{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
                )
        return [TP(t, p) for t in names for p in sorted(client.partitions_for_topic(t) or ())]

    async def bounds(self, tps: Iterable[TP]) -> dict[TP, tuple[int, int]]:
        wanted = list(tps)
        if not wanted:
            return {}
        begin = await self.driver.client.beginning_offsets([_kafka(tp) for tp in wanted])
        ends = await self.driver.end_offsets(wanted)
        return {tp: (int(begin[_kafka(tp)]), ends[tp]) for tp in wanted}

    async def record_timestamps(self, offsets: Mapping[TP, int]) -> dict[TP, int]:
        """The timestamp (ms) of the first record at or after each offset, as far as
        one read within :data:`RECORD_TIMEOUT` finds them."""
        if not offsets:
            return {}
        reader = self.reader
        kafka_tps = [_kafka(tp) for tp in offsets]
        reader.assign(kafka_tps)
        for tp, offset in offsets.items():
            reader.seek(_kafka(tp), offset)
        out: dict[TP, int] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECORD_TIMEOUT
        waiting = set(kafka_tps)
        while waiting and loop.time() < deadline:
            batch = await reader.getmany(*waiting, timeout_ms=100)
            for kafka_tp, records in batch.items():
                tp = TP(kafka_tp.topic, kafka_tp.partition)
                first = next((r for r in records if r.offset >= offsets[tp]), None)
                if first is not None and kafka_tp in waiting:
                    out[tp] = int(first.timestamp)
                    waiting.discard(kafka_tp)
                    reader.pause(kafka_tp)
        reader.assign([])
        return out

    # -- one sample -------------------------------------------------------------------

    async def group_partitions(
        self, info: GroupInfo, topics: Iterable[str] | None = None
    ) -> list[TP]:
        """The partitions to watch: every partition of ``topics``, or of the topics the
        group's members own or it has a committed offset on (partitions of those
        without a committed offset included: they are reported as such)."""
        if topics is not None:
            return await self.partitions(topics)
        every = await self.partitions()
        committed = await self.committed(info.group, every)
        owned = set(info.owners())
        names = {tp.topic for tp in every if committed[tp] is not None or tp in owned}
        return [tp for tp in every if tp.topic in names]

    async def sample(
        self, group: str, tps: list[TP], *, times: bool = True, info: GroupInfo | None = None
    ) -> GroupSample:
        """The group's state, members, committed offsets and log bounds now."""
        if info is None:
            info = (await self.describe([group]))[group]
        committed = await self.committed(group, tps)
        bounds = await self.bounds(tps)
        at = time.time()
        owners = info.owners()
        # Without assignments (Tansu gives none) a live member is taken to own them all.
        live = bool(info.members) and info.state not in REBALANCING
        unknown_owner = live and not info.assignments_known
        parts: dict[TP, PartitionSample] = {}
        for tp in tps:
            start, end = bounds[tp]
            owner = owners.get(tp)
            s = Sample(at, committed[tp], start, end, owned=owner is not None or unknown_owner)
            parts[tp] = PartitionSample(tp, s, owner)
        if times:
            unread = {
                tp: max(p.sample.committed or 0, p.sample.log_start)
                for tp, p in parts.items()
                if p.sample.lag
            }
            stamps = await self.record_timestamps(unread)
            for tp, ts in stamps.items():
                p = parts[tp]
                parts[tp] = PartitionSample(tp, p.sample, p.owner, ts)
        return GroupSample(at, info, parts)
