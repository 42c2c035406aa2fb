"""The Kafka transport, on aiokafka: ``kafka://host:port[,host:port]``.

Manual commits only (``enable_auto_commit=False``): the engine decides what is
committable.  SSL and SASL settings pass through to aiokafka unchanged, so the
same engine runs against a real multi-broker cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    ConsumerStoppedError,
    KafkaConnectionError,
    KafkaError,
    UnsupportedCodecError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.group import LeaveGroupRequest

from ...errors import (
    BrokerUnreachableError,
    KConsumeError,
    UnreadableRecordsError,
)
from ..consumer import Consumer
from ..positions import StartAt
from ..types import TP
from . import base
from .base import ClientDriver, ConsumerDriver, RebalanceHandler, RecordLike, Transport
from .diagnose import connect_failure

__all__ = [
    "AIOKafkaDriver",
    "AIOKafkaTransport",
    "BrokerUnreachableError",
    "KafkaConsumer",
    "UnreadableRecordsError",
    "bootstrap_servers",
    "client_settings",
]

log = logging.getLogger(__name__)

#: Settings that go straight to aiokafka clients (security and tuning).
PASSTHROUGH = frozenset(
    {
        "security_protocol",
        "ssl_context",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "sasl_kerberos_service_name",
        "sasl_kerberos_domain_name",
        "sasl_oauth_token_provider",
        "request_timeout_ms",
        "session_timeout_ms",
        "rebalance_timeout_ms",
        "heartbeat_interval_ms",
        "max_poll_interval_ms",
        "max_poll_records",
        "fetch_max_wait_ms",
        "fetch_max_bytes",
        "max_partition_fetch_bytes",
        "isolation_level",
        "metadata_max_age_ms",
        "connections_max_idle_ms",
    }
)


#: How long the broker may hold a fetch with nothing to return (aiokafka: 500 ms).
#: aiokafka does not fetch a partition again while its last records are unconsumed, so
#: one fetch for partitions already at their end can hold back the others' next fetch
#: for this long; a consumer you watch live wants that short.
DEFAULT_FETCH_MAX_WAIT_MS = 100
#: Records one ``getmany`` hands over at most (aiokafka: no limit).  aiokafka keeps what it
#: fetched compressed and builds a record object only when one is handed over; without a
#: limit one call can build hundreds of thousands of them at once (a whole 50 MB fetch),
#: and that, not the engine, sets a consumer's peak memory.  The rest waits in aiokafka,
#: still compressed; the position stays exact (one past the last record handed over).
DEFAULT_MAX_POLL_RECORDS = 10_000
#: Seconds a stop may take (leaving the group, closing connections).
STOP_TIMEOUT = 10.0
#: Records of aborted transactions are not shown, as kcat users expect of
#: ``-X isolation.level``; ``isolation_level="read_uncommitted"`` shows them.
DEFAULT_ISOLATION_LEVEL = "read_committed"
#: Seconds a fetch may take to confirm the end offsets ListOffsets gave.


class KafkaConsumer(Consumer):
    """The engine Consumer on aiokafka: a stopped client raises ``ConsumerStoppedError``."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = (ConsumerStoppedError,)


def bootstrap_servers(url: str) -> list[str]:
    """``kafka://a:9092,b:9092`` (or plain ``a:9092,b``) to aiokafka's server list."""
    rest = url.split("://", 1)[1] if "://" in url else url
    if "://" in url and not url.startswith("kafka://"):
        raise KConsumeError(f"unsupported broker URL {url!r}: use kafka://host:port")
    servers = []
    for part in rest.strip("/").split(","):
        part = part.strip()
        if not part:
            continue
        servers.append(part if ":" in part else f"{part}:9092")
    if not servers:
        raise KConsumeError(f"no broker address in {url!r}")
    return servers


def client_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """aiokafka keyword arguments from transport settings.

    ``ssl_cafile``/``ssl_certfile``/``ssl_keyfile``/``ssl_password`` build an
    ``ssl_context``; every name in :data:`PASSTHROUGH` is passed as is.
    """
    out = {k: v for k, v in settings.items() if k in PASSTHROUGH and v is not None}
    files = {k: settings.get(k) for k in ("ssl_cafile", "ssl_certfile", "ssl_keyfile")}
    if any(files.values()) and "ssl_context" not in out:
        out["ssl_context"] = create_ssl_context(
            cafile=files["ssl_cafile"],
            certfile=files["ssl_certfile"],
            keyfile=files["ssl_keyfile"],
            password=settings.get("ssl_password"),
        )
        out.setdefault("security_protocol", "SSL")
    if out.get("security_protocol") in ("SSL", "SASL_SSL") and "ssl_context" not in out:
        out["ssl_context"] = ssl.create_default_context()
    return out


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, handler: RebalanceHandler) -> None:
        self._handler = handler

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._handler.on_rebalance_started()
        await self._handler.on_partitions_revoked({TP(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self._handler.on_partitions_assigned({TP(tp.topic, tp.partition) for tp in assigned})


class AIOKafkaDriver(ClientDriver[AIOKafkaConsumer]):
    """An ``AIOKafkaConsumer`` behind the :class:`ConsumerDriver` interface.

    With a group it subscribes and reports the group's rebalances; without one it
    assigns every partition of the topics (or the ``partitions`` given) itself and
    never commits, like ``kcat -C``.
    """

    def __init__(
        self,
        handler: RebalanceHandler,
        servers: list[str],
        *,
        group_id: str | None,
        client_id: str,
        auto_offset_reset: str,
        partitions: Sequence[int] | None,
        settings: dict[str, Any],
    ) -> None:
        self._handler = handler
        self._servers = servers
        self._group_id = group_id
        self._partitions = partitions
        self._settings = settings
        self._client_settings: dict[str, Any] = {
            "bootstrap_servers": servers,
            "group_id": group_id,
            "client_id": client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": auto_offset_reset,
            "isolation_level": DEFAULT_ISOLATION_LEVEL,
            **settings,
        }
        self._isolation_level = str(self._client_settings["isolation_level"])
        self._read_committed = self._isolation_level == "read_committed"
        #: Created by :meth:`start`: aiokafka clients need a running event loop.
        self._client: AIOKafkaConsumer | None = None

    @property
    def generation(self) -> int | None:
        generation = getattr(getattr(self._client, "_coordinator", None), "generation", None)
        return generation if isinstance(generation, int) and generation >= 0 else None

    @property
    def member_id(self) -> str | None:
        member_id = getattr(getattr(self._client, "_coordinator", None), "member_id", None)
        return member_id or None

    async def start(self, topics: Iterable[str]) -> None:
        topics = list(topics)
        self._client = AIOKafkaConsumer(**self._client_settings)
        try:
            await self._client.start()
        except (KafkaConnectionError, KeyError) as exc:  # KeyError: a refused SCRAM login
            await self._client.stop()
            message = await connect_failure(exc, self._servers, self._client_settings)
            if message is None:
                raise
            raise BrokerUnreachableError(message) from None
        # Every topic's metadata, read once: the client's own metadata holds only the
        # topics it subscribed to (Tansu answers with every topic, Apache Kafka does not).
        metadata = await self._client._client.fetch_all_metadata()
        existing = metadata.topics()
        missing = sorted(set(topics) - existing)
        if missing:
            await self._client.stop()
            raise base.unknown_topics(missing, existing)
        if self._group_id is not None and self._partitions is None:
            self._client.subscribe(topics=topics, listener=_Listener(self._handler))
            return
        tps = self._manual_assignment(topics, metadata)
        self._client.assign([TopicPartition(tp.topic, tp.partition) for tp in tps])
        await self._handler.on_partitions_assigned(set(tps))

    def _manual_assignment(self, topics: list[str], metadata: Any) -> list[TP]:
        tps: list[TP] = []
        for topic in topics:
            available = sorted(metadata.partitions_for_topic(topic) or ())
            wanted = available if self._partitions is None else list(self._partitions)
            unknown = sorted(set(wanted) - set(available))
            if unknown:
                raise KConsumeError(f"topic {topic} has partitions {available}, not {unknown}")
            tps.extend(TP(topic, p) for p in wanted)
        return tps

    async def stop(self) -> None:
        if self._client is None:
            return
        await self._leave_generation_zero()
        try:
            # Leaving the group waits for the coordinator up to the request timeout (40 s
            # by default): a stop must not hang that long on a broker that went away.
            await asyncio.wait_for(self._client.stop(), STOP_TIMEOUT)
        except (KafkaError, asyncio.CancelledError, TimeoutError) as exc:
            # With the broker gone, aiokafka's fetcher can re-raise its last error (or its
            # own task's cancellation) while closing, before the connections are closed.
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task and task.cancelling():
                raise  # we are being cancelled ourselves
            # The fetcher's own cancellation is the broker being gone, which the user was
            # already told; an error or a timeout is worth a warning.
            level = logging.DEBUG if isinstance(exc, asyncio.CancelledError) else logging.WARNING
            log.log(level, "stopping the Kafka client: %r", exc)
            with contextlib.suppress(Exception):
                await self.client._client.close()

    async def _leave_generation_zero(self) -> None:
        """Leave the group when its generation is 0, which aiokafka does not.

        aiokafka sends LeaveGroup only for generations above 0, the numbering real
        Kafka uses.  Tansu numbers a group's first generation 0 and never expires that
        member, so without this the group keeps a dead member until someone else joins.
        """
        coordinator = getattr(self._client, "_coordinator", None)
        if self._group_id is None or coordinator is None or self.generation != 0:
            return
        member_id = getattr(coordinator, "member_id", None)
        if not member_id:
            return
        with contextlib.suppress(Exception):  # a best effort, like aiokafka's own
            await asyncio.wait_for(
                coordinator._send_req(LeaveGroupRequest(self._group_id, member_id)), 2.0
            )

    async def getmany(self, timeout: float) -> Mapping[TP, Sequence[RecordLike]]:
        try:
            result: Mapping[TP, Sequence[RecordLike]] = await self.client.getmany(
                timeout_ms=int(timeout * 1000)
            )
        except UnsupportedCodecError as exc:
            raise UnreadableRecordsError(self._unreadable(exc)) from None
        return result

    def _unreadable(self, exc: UnsupportedCodecError) -> str:
        """Say which partition and offset hold the records aiokafka could not decode.

        aiokafka names only the codec.  The partition is the first one whose fetched
        records are still waiting in its fetcher (those before it were returned and
        removed); its position is the first offset not read.  Private state, read
        with care: without it the message names the codec alone.
        """
        found = re.search(r"for (\w+) compression|codec (0x[0-9a-f]+)", str(exc))
        codec = next((g for g in found.groups() if g), "?") if found else "?"
        where = "a partition"
        with contextlib.suppress(Exception):
            for kafka_tp in self.client._fetcher._records:
                tp = TP(kafka_tp.topic, kafka_tp.partition)
                where = f"{tp} at offset {self.fetch_positions().get(tp)}"
                break
        return (
            f"cannot read {where}: its records are compressed with {codec}, which this "
            "installation cannot decompress (reinstall kconsume: it brings aiokafka's "
            "lz4, snappy and zstd codecs)"
        )

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        await self.client.commit(
            {TopicPartition(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
        )

    async def committed(self, tps: Iterable[TP]) -> dict[TP, int | None]:
        if self._group_id is None:
            return dict.fromkeys(tps)
        result: dict[TP, int | None] = {}
        for tp in tps:
            try:
                result[tp] = await self.client.committed(TopicPartition(tp.topic, tp.partition))
            except KafkaError as exc:
                log.warning("could not read the committed offset of %s: %s", tp, exc)
                result[tp] = None
        await self._report_below_log_start(result)
        return result

    async def _report_below_log_start(self, committed: Mapping[TP, int | None]) -> None:
        """Warn about committed offsets below their partition's log start.

        Retention (or a deletion of records) moved the log start past the group's
        committed offset: the records in between are gone, the broker answers a fetch
        there with OFFSET_OUT_OF_RANGE, and the client starts where ``auto_offset_reset``
        says (earliest: the log start; latest: the end).  Read from the broker's own
        answer (ListOffsets, earliest), whatever the broker.
        """
        known = [TopicPartition(*tp) for tp, offset in committed.items() if offset is not None]
        if not known:
            return
        try:
            starts = await self.client.beginning_offsets(known)
        except KafkaError as exc:
            log.debug("could not read the log starts: %s", exc)
            return
        reset = self._client_settings.get("auto_offset_reset")
        where = {"earliest": "the log start", "latest": "the end"}.get(str(reset))
        for kafka_tp in known:
            offset, start = committed[TP(*kafka_tp)], starts.get(kafka_tp)
            if offset is None or start is None or offset >= start:
                continue
            log.warning(
                "%s[%d]: the group's committed offset %d is below the log start %d "
                "(records %d..%d are gone: retention or deleted records); "
                "starting at %s (auto_offset_reset=%s)",
                kafka_tp.topic,
                kafka_tp.partition,
                offset,
                start,
                offset,
                start - 1,
                f"{where}, {start}" if reset == "earliest" else where or "nowhere: the fetch fails",
                reset,
            )

    def highwater(self, tp: TP) -> int | None:
        if self._client is None:
            return None
        try:
            value = self._client.highwater(TopicPartition(tp.topic, tp.partition))
        except Exception:  # not assigned any more
            return None
        return value if isinstance(value, int) else None

    def fetch_end(self, tp: TP) -> int | None:
        return _fetch_end(
            self._client, TopicPartition(tp.topic, tp.partition), self._read_committed
        )

    def fetch_positions(self) -> dict[TP, int]:
        """Positions from aiokafka's subscription state, which has no public sync reader.

        ``AIOKafkaConsumer.position()`` waits when a position is being reset; this
        never waits.  Without that state (another aiokafka) it returns nothing, and
        commits fall back to one past the last delivered record.  A partition with a
        fetch error waiting to be raised is left out: for a record too large to fetch,
        aiokafka moves the position past it before it raises.
        """
        try:
            assignment = self.client._subscription.subscription.assignment
            tps = assignment.tps
            pending = self.client._fetcher._records
        except AttributeError:
            return {}
        out: dict[TP, int] = {}
        for kafka_tp in tps:
            state = assignment.state_value(kafka_tp)
            if state is None or not state.has_valid_position:
                continue
            waiting = pending.get(kafka_tp)
            if waiting is not None and not hasattr(waiting, "getall"):  # an error, not records
                continue
            out[TP(kafka_tp.topic, kafka_tp.partition)] = state.position
        return out

    async def position(self, tp: TP) -> int | None:
        kafka_tp = TopicPartition(*tp)
        if kafka_tp not in self.client.assignment():
            return None
        try:
            position: int = await self.client.position(kafka_tp)
        except KafkaError:  # revoked meanwhile
            return None
        return position

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        kafka_tps = [TopicPartition(*tp) for tp in tps]
        if not kafka_tps:
            return {}
        listed = await self.client.end_offsets(kafka_tps)
        ends = await self._confirm_ends(listed)
        return {TP(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def listed_end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """ListOffsets(latest) alone: a lower bound of the end, to confirm with a fetch.

        Caller: code whose own fetches report the end (``consume -e``).
        """
        kafka_tps = [TopicPartition(*tp) for tp in tps]
        if not kafka_tps:
            return {}
        listed = await self.client.end_offsets(kafka_tps)
        return {TP(tp.topic, tp.partition): offset for tp, offset in listed.items()}

    async def _confirm_ends(self, listed: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Check listed end offsets against a fetch's end, which every broker gets right.

        Tansu answers ListOffsets(latest) with the last batch's base offset + 1, short of
        the end when that batch holds several records.  A fetch from just before the
        listed end reports the true end (the highwater, or the last stable offset under
        read_committed); on real Kafka the two agree.  An end no fetch confirms in
        :data:`END_CONFIRM_TIMEOUT` raises :class:`EndUnknownError`: a short end would
        silently cut a read.
        """
        probe_tps = [tp for tp, offset in listed.items() if offset > 0]
        if not probe_tps:
            return listed
        probe = AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            group_id=None,
            enable_auto_commit=False,
            **{
                **self._settings,
                "isolation_level": self._isolation_level,
                "fetch_max_wait_ms": 50,
                "max_partition_fetch_bytes": 1024,
            },
        )
        ends = dict(listed)
        missing = set(probe_tps)
        try:
            await probe.start()
            probe.assign(probe_tps)
            for tp in probe_tps:
                probe.seek(tp, listed[tp] - 1)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + base.END_CONFIRM_TIMEOUT
            while missing and loop.time() < deadline:
                # Only the end is wanted: records the probe cannot decode do not matter
                # (the response set the highwater before its records were read).
                with contextlib.suppress(KafkaError):
                    await probe.getmany(timeout_ms=100)
                for tp in list(missing):
                    end = _fetch_end(probe, tp, self._read_committed)
                    if end is not None:
                        ends[tp] = max(listed[tp], end)
                        missing.discard(tp)
        finally:
            await probe.stop()
        if missing:
            raise base.ends_unconfirmed(TP(tp.topic, tp.partition) for tp in missing)
        return ends

    async def start_offsets(self, tps: Iterable[TP], start: StartAt) -> dict[TP, int]:
        kafka_tps = [TopicPartition(*tp) for tp in tps]
        if not kafka_tps:
            return {}
        begin = await self.client.beginning_offsets(kafka_tps)
        if start.kind == "beginning":  # no end needed
            return {TP(tp.topic, tp.partition): offset for tp, offset in begin.items()}
        end = await self._confirm_ends(await self.client.end_offsets(kafka_tps))
        out: dict[TP, int] = {}
        found = {}
        if start.kind == "time":
            found = await self.client.offsets_for_times(dict.fromkeys(kafka_tps, start.value))
        for tp in kafka_tps:
            hit = found.get(tp)
            # None: nothing at or after that time; Tansu says so as (offset 0, timestamp -1)
            at_time = None if hit is None or hit.timestamp < 0 else hit.offset
            out[TP(tp.topic, tp.partition)] = start.offset_between(begin[tp], end[tp], at_time)
        return out

    def seek(self, tp: TP, offset: int) -> None:
        self.client.seek(TopicPartition(*tp), offset)

    def pause(self, tps: Iterable[TP]) -> None:
        assigned = self.client.assignment()
        self.client.pause(*(t for tp in tps if (t := TopicPartition(*tp)) in assigned))

    def resume(self, tps: Iterable[TP]) -> None:
        assigned = self.client.assignment()
        self.client.resume(*(t for tp in tps if (t := TopicPartition(*tp)) in assigned))


def _fetch_end(
    client: AIOKafkaConsumer | None, tp: TopicPartition, read_committed: bool
) -> int | None:
    """The end a fetch reported: the last stable offset under read_committed (what is
    past it is not readable yet), else the highwater.  A broker that reports no stable
    offset (-1, or none) is taken at its highwater."""
    if client is None:
        return None
    try:
        highwater = client.highwater(tp)
        stable = client.last_stable_offset(tp) if read_committed else None
    except Exception:  # not assigned any more
        return None
    if isinstance(stable, int) and stable >= 0:
        return stable
    return highwater if isinstance(highwater, int) else None


class AIOKafkaTransport(Transport):
    """``kafka://`` URLs.  Settings: ``group_id``, ``client_id``, ``auto_offset_reset``
    (``earliest``/``latest``), ``partitions`` (manual assignment), SSL/SASL and tuning
    settings (see :func:`client_settings`).
    """

    def consumer_class(self) -> type[Consumer]:
        return KafkaConsumer

    def create_driver(self, handler: RebalanceHandler) -> ConsumerDriver:
        settings = dict(self.settings)
        settings.setdefault("fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)
        settings.setdefault("max_poll_records", DEFAULT_MAX_POLL_RECORDS)
        return AIOKafkaDriver(
            handler,
            bootstrap_servers(self.url),
            group_id=settings.pop("group_id", None),
            client_id=settings.pop("client_id", None) or "kconsume",
            auto_offset_reset=settings.pop("auto_offset_reset", None) or "earliest",
            partitions=settings.pop("partitions", None),
            settings=client_settings(settings),
        )
