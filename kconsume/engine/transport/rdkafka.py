"""The Kafka transport on librdkafka (confluent-kafka): ``rdkafka://host:port[,host:port]``.

librdkafka's calls block; confluent-kafka serializes the calls on one client (a call
from a second thread waits while a ``consume()`` runs, and one made during a rebalance
callback waits until the callback returned unless it is made on the callback's own
thread: both measured with confluent-kafka 2.16).  So:

* one **poll thread** (:class:`_Worker`) makes every call on the client: each
  ``consume()`` (``consume(n, 0)``, or ``consume(1, wait)`` then ``consume(n - 1, 0)``,
  so a batch is taken whole and a lone record is not held back), the requests that
  wait for a broker (commit, committed, ListOffsets) between two consume() calls, and
  the final ``close()``.  The loop awaits it and is never blocked;
* the batch is grouped per partition and wrapped in :class:`RdRecord` there, and each
  partition's position and fetch end are read right after (:meth:`RdKafkaDriver._snapshot`),
  so the loop's ``fetch_positions``/``highwater``/``fetch_end`` make no call;
* ``pause``/``resume``/``seek`` from the loop are recorded and applied on the poll
  thread before the next consume() (the engine already treats records of a partition
  it paused as given back);
* a rebalance callback, called by librdkafka inside consume() on the poll thread, runs
  the engine's async handler on the loop and **blocks the poll thread until it has
  finished** (:meth:`RdKafkaDriver._on_loop`), running meanwhile the requests the
  handler makes (committed offsets, the revoke's commit).  Nothing is fetched in the
  meantime, and a revoke's drain and commit happen while the group waits for us.

While an assignment is being set up its partitions are not assigned at librdkafka yet:
the engine's seeks and pauses for them are collected, and the callback assigns each
partition at an explicit offset (the engine's seek, the group's committed offset, or
``auto.offset.reset`` resolved by one ListOffsets), with ``assign`` or, for the
cooperative protocols, ``incremental_assign``; then pauses the ones still paused.
librdkafka reports no position until it has returned a record, so the driver keeps
where each partition (re)started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka import (
    Consumer as RdConsumer,
)

from ...errors import BrokerUnreachableError, KConsumeError
from ..consumer import Consumer
from ..positions import StartAt
from ..types import TP
from . import base
from .base import ClientDriver, ConsumerDriver, RebalanceHandler, RecordLike, Transport

__all__ = [
    "DEFAULT_CONFIG",
    "ClientClosedError",
    "RdKafkaConsumer",
    "RdKafkaDriver",
    "RdKafkaTransport",
    "RdRecord",
    "rdkafka_config",
]

log = logging.getLogger(__name__)
#: Where librdkafka's own log lines go (as Python log records, from the poll thread's calls)
#: instead of straight to stderr: the commands say what failed in a line of their own.
CLIENT_LOG = logging.getLogger("librdkafka")

T = TypeVar("T")

#: librdkafka settings kconsume sets unless the user sets them (``-X name=value``).
#: Chosen by measurement (docs/benchmarks.md):
#:
#: * ``fetch.queue.backoff.ms`` 10 (librdkafka: 1000): once a partition's local queue
#:   is over ``queued.min.messages`` librdkafka waits this long before fetching it
#:   again, so a backlog read stalls for a second at a time;
#: * ``fetch.wait.max.ms`` 100 (librdkafka: 500): how long the broker holds a fetch with
#:   nothing to return, the same as the aiokafka transport's;
#: * manual commits only, and offsets never stored by librdkafka: the engine decides
#:   what is committable;
#: * ``isolation.level`` read_committed, and the aiokafka transport's group timings
#:   (session 10 s, heartbeat 3 s; librdkafka: 45 s and 3 s), so a member that dies
#:   loses its partitions as soon on either client.
DEFAULT_CONFIG: dict[str, Any] = {
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 3_000,
    "fetch.queue.backoff.ms": 10,
    "fetch.wait.max.ms": 100,
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "isolation.level": "read_committed",
    "enable.partition.eof": False,
}
#: Records taken from librdkafka in one ``getmany`` (``max_poll_records`` sets it).
#: Measured (engine, one stream, 200,000 records): 2,000 read at the aiokafka
#: transport's rate, 10,000 and 500 about 10% slower (docs/benchmarks.md).
DEFAULT_BATCH = 2_000
#: Longest one ``consume()`` waits for a first record: an empty answer still moves
#: positions past transaction markers, so the engine hears of them this soon.
POLL_WAIT = 0.1
#: Seconds a stop may take (leaving the group, closing connections).
STOP_TIMEOUT = 10.0
#: Seconds a request that waits for a broker may take (metadata, offsets).
REQUEST_TIMEOUT = 10.0
#: Seconds a fetch may take to confirm the end offsets ListOffsets gave.

#: The aiokafka transport's setting names (``App(..., session_timeout_ms=...)``) in
#: librdkafka's: the same App settings work on both clients.
_AIOKAFKA_NAMES: dict[str, str | None] = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "sasl_kerberos_service_name": "sasl.kerberos.service.name",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "request_timeout_ms": "socket.timeout.ms",
    "session_timeout_ms": "session.timeout.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
    "max_poll_interval_ms": "max.poll.interval.ms",
    "fetch_max_wait_ms": "fetch.wait.max.ms",
    "fetch_max_bytes": "fetch.max.bytes",
    "max_partition_fetch_bytes": "max.partition.fetch.bytes",
    "isolation_level": "isolation.level",
    "metadata_max_age_ms": "metadata.max.age.ms",
    "connections_max_idle_ms": "connections.max.idle.ms",
    # aiokafka only: librdkafka has no such setting (its rebalance timeout is
    # max.poll.interval.ms), or kconsume handles it itself.
    "rebalance_timeout_ms": None,
    "max_poll_records": None,
    "sasl_kerberos_domain_name": None,
}
_UNSUPPORTED = ("ssl_context", "sasl_oauth_token_provider")


class ClientClosedError(KConsumeError):
    """The librdkafka client is stopped (a fetch after :meth:`RdKafkaDriver.stop`)."""


class RdKafkaConsumer(Consumer):
    """The engine Consumer on librdkafka: a stopped client raises ``ClientClosedError``."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = (ClientClosedError,)


class RdRecord:
    """One fetched record, as the engine reads it (:class:`~.base.RecordLike`)."""

    __slots__ = ("headers", "key", "offset", "timestamp", "value")

    def __init__(
        self,
        offset: int,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers


def rdkafka_config(settings: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """librdkafka settings from transport settings, and the batch size.

    ``config`` holds librdkafka's own names (``-X``), passed as they are; other
    settings are the aiokafka transport's names (mapped) or librdkafka names written
    with underscores (``fetch_queue_backoff_ms``).  Caller: :class:`RdKafkaTransport`.
    """
    out: dict[str, Any] = {}
    batch = DEFAULT_BATCH
    for name, value in settings.items():
        if value is None or name == "config":
            continue
        if name in _UNSUPPORTED:
            raise KConsumeError(
                f"{name} is an aiokafka setting; on librdkafka use its own names "
                "(ssl.ca.location, sasl.oauthbearer.config, ...)"
            )
        if name == "max_poll_records":
            batch = int(value)
            continue
        if name in _AIOKAFKA_NAMES:
            mapped = _AIOKAFKA_NAMES[name]
            if mapped is not None:
                out[mapped] = value
            continue
        out[name.replace("_", ".")] = value
    for name, value in dict(settings.get("config") or {}).items():
        out[str(name)] = value
    return out, batch


def _tps(tps: Iterable[TP]) -> list[TopicPartition]:
    return [TopicPartition(tp[0], tp[1]) for tp in tps]


def _check(answer: Sequence[TopicPartition], what: str) -> None:
    """Raise for the first partition of a librdkafka answer that carries an error."""
    for tp in answer:
        if tp.error is not None:
            raise KConsumeError(f"{what} of {tp.topic}[{tp.partition}] failed: {tp.error.str()}")


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a call that waits for a broker on a daemon thread of its own.

    Never the poll thread (a request must not wait behind a poll, nor a poll behind a
    request whose coordinator is gone) and never a pool whose threads the interpreter
    joins at exit (a hung request would hold the process).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, False, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, True, result)

    threading.Thread(target=run, name="kconsume-rdkafka-request", daemon=True).start()
    return await future


#: Errors a request is retried on: the partition's leader or the group's coordinator
#: is not ready yet (a topic just created, a broker restarting).
_RETRIABLE = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.OFFSET_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_COORDINATOR,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


def _retrying(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn``, again every 0.1 s for up to :data:`REQUEST_TIMEOUT` while it fails
    with an error that passes (:data:`_RETRIABLE`, or one librdkafka calls retriable).

    On the poll thread.  aiokafka retries these itself; librdkafka's offset queries
    raise them at once (seen: NOT_LEADER_FOR_PARTITION right after a topic is created).
    """
    deadline = time.monotonic() + REQUEST_TIMEOUT
    while True:
        try:
            answer = fn(*args)
            if time.monotonic() < deadline and any(
                getattr(tp, "error", None) is not None and tp.error.code() in _RETRIABLE
                for tp in (answer if isinstance(answer, list) else ())
            ):  # a partition's own error that passes
                time.sleep(0.1)
                continue
            return answer
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            passes = isinstance(error, KafkaError) and (
                error.code() in _RETRIABLE or error.retriable()
            )
            if not passes or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


class _Worker:
    """One daemon thread running submitted calls in order: the poll thread."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._calls.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        self._calls.put(None)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            _run_call(call)


_Call = tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]]


def _run_call(call: _Call) -> None:
    """Run one queued call and settle its future (on the thread that runs it)."""
    future, fn, args = call
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn(*args))
    except BaseException as exc:
        future.set_exception(exc)


class RdKafkaDriver(ClientDriver[RdConsumer]):
    """A confluent-kafka ``Consumer`` behind the :class:`ConsumerDriver` interface.

    With a group it subscribes and reports the group's rebalances; without one it
    assigns every partition of the topics (or the ``partitions`` given) itself and
    never commits, like ``kcat -C``.
    """

    def __init__(
        self,
        handler: RebalanceHandler,
        servers: str,
        *,
        group_id: str | None,
        client_id: str,
        auto_offset_reset: str,
        partitions: Sequence[int] | None,
        config: dict[str, Any],
        batch: int = DEFAULT_BATCH,
    ) -> None:
        self._handler = handler
        self._group_id = group_id
        self._partitions = partitions
        self._batch = max(1, batch)
        #: Set once a broker has answered: later "all brokers down" errors are news.
        self._reached = False
        self._config: dict[str, Any] = {
            **DEFAULT_CONFIG,
            "bootstrap.servers": servers,
            "client.id": client_id,
            "auto.offset.reset": auto_offset_reset,
            "logger": CLIENT_LOG,
            **config,
        }
        if group_id is not None:
            self._config["group.id"] = group_id
        else:  # librdkafka wants one; it is never joined nor committed to
            self._config.setdefault("group.id", "kconsume-no-group")
        self._read_committed = (
            str(self._config.get("isolation.level", "read_committed")) == "read_committed"
        )
        strategy = str(self._config.get("partition.assignment.strategy", ""))
        protocol = str(self._config.get("group.protocol", "classic"))
        #: Cooperative rebalances hand over changes only (incremental_assign/unassign).
        self._incremental = "cooperative" in strategy or protocol == "consumer"
        self._client: RdConsumer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll: _Worker | None = None
        #: A consume() whose caller was cancelled: its records are the next getmany's.
        self._inflight: concurrent.futures.Future[dict[TP, list[RdRecord]]] | None = None
        #: The partitions assigned at librdkafka (the poll thread changes it in a callback).
        self._assigned: dict[TP, TopicPartition] = {}
        #: Partitions being assigned (a callback is running): where each starts.
        self._pending: dict[TP, int] | None = None
        self._pending_paused: set[TP] = set()
        self._paused: set[TP] = set()
        #: Where each partition's fetching (re)started: librdkafka reports no position
        #: after an assignment or a seek until it returns a record, and nothing below
        #: this start is the engine's to read.
        self._starts: dict[TP, int] = {}
        #: Committed offsets read during the assignment under way (``committed()``).
        self._committed_seen: dict[TP, int] = {}
        #: What the loop asked for, applied on the poll thread before the next consume().
        self._seeks: dict[TP, int] = {}
        #: The partitions paused at librdkafka (``_paused`` is what the engine wants).
        self._rd_paused: set[TP] = set()
        #: As of the last consume() (:meth:`_snapshot`): positions and fetch ends.
        self._positions: dict[TP, int] = {}
        self._ends: dict[TP, int] = {}
        #: Guards the assignment bookkeeping, changed by the poll thread and the loop.
        self._lock = threading.Lock()
        self._closing = False
        #: True while the poll thread is in a rebalance callback (it then runs requests).
        self._in_callback = False
        self._callback_calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._generation: int | None = None
        self._member_id: str | None = None
        self._errors: list[KafkaError] = []
        self._tp_cache: dict[tuple[str, int], TP] = {}

    # -- identity ---------------------------------------------------------------

    @property
    def generation(self) -> int | None:
        """The group generation of the last assignment (None before one)."""
        return self._generation

    def _read_group_identity(self) -> None:
        """Keep the generation and member id of this assignment.  On the poll thread,
        in the assign callback: librdkafka answers these from there at once, and from
        another thread only once the callback returned.  The generation comes from
        librdkafka's serialized group metadata ("CGMDv2:", then an int32 in host order)."""
        client = self._client
        if client is None or self._group_id is None:
            return
        with contextlib.suppress(Exception):
            self._member_id = client.memberid() or None
        with contextlib.suppress(Exception):
            data = client.consumer_group_metadata()
            if isinstance(data, bytes) and data.startswith(b"CGMDv2:") and len(data) >= 11:
                generation = int.from_bytes(data[7:11], sys.byteorder, signed=True)
                self._generation = generation if generation >= 0 else None

    @property
    def member_id(self) -> str | None:
        return self._member_id

    # -- lifecycle --------------------------------------------------------------

    async def start(self, topics: Iterable[str]) -> None:
        """Create the client, check the topics, subscribe (or assign).  Caller: Consumer."""
        topics = list(topics)
        self._loop = asyncio.get_running_loop()
        config = {**self._config, "error_cb": self._on_error}
        try:
            self._client = RdConsumer(config)
        except KafkaException as exc:
            raise KConsumeError(f"librdkafka refused the settings: {exc.args[0].str()}") from None
        self._poll = _Worker("kconsume-rdkafka-poll")
        timeout = int(self._config.get("socket.timeout.ms", REQUEST_TIMEOUT * 1000)) / 1000
        try:
            metadata = await _in_thread(self._client.list_topics, None, timeout)
        except KafkaException as exc:
            await self._close_now()
            servers = self._config["bootstrap.servers"]
            raise BrokerUnreachableError(
                f"cannot reach a Kafka broker at {servers} in {timeout:g}s "
                f"(librdkafka: {exc.args[0].str()})"
            ) from None
        self._reached = True
        existing = {name for name, t in metadata.topics.items() if t.error is None}
        missing = sorted(set(topics) - existing)
        if missing:
            await self._close_now()
            raise base.unknown_topics(missing, existing)
        if self._group_id is not None and self._partitions is None:
            self._client.subscribe(
                topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )  # fmt: skip
            return
        tps: list[TP] = []
        for topic in topics:
            available = sorted(metadata.topics[topic].partitions)
            wanted = available if self._partitions is None else list(self._partitions)
            unknown = sorted(set(wanted) - set(available))
            if unknown:
                await self._close_now()
                raise KConsumeError(f"topic {topic} has partitions {available}, not {unknown}")
            tps.extend(TP(topic, p) for p in wanted)
        self._begin_assignment(set(tps))
        try:
            await self._handler.on_partitions_assigned(set(tps))
            await _in_thread(self._resolve_resets, self._client)  # nothing polls yet
        finally:
            self._apply_assignment(False)

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error callback (served by consume() on the poll thread)."""
        if error.fatal():
            self._errors.append(error)
        elif error.code() == KafkaError._ALL_BROKERS_DOWN and self._reached:
            # Before the first answer, start() says it in one line of its own.
            log.warning("librdkafka: %s", error.str())
        else:
            log.debug("librdkafka: %s", error.str())

    async def stop(self) -> None:
        """Leave the group and close, on the poll thread after any consume() under way.

        Caller: ``Consumer.on_stop``, after its final commit.  The revoke librdkafka
        reports while closing is not handed to the engine again.
        """
        if self._client is None or self._poll is None:
            return
        self._closing = True
        poll, client = self._poll, self._client
        closed = poll.submit(client.close)
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(closed)), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("stopping the Kafka client: no answer in %gs", STOP_TIMEOUT)
        except Exception as exc:
            log.warning("stopping the Kafka client: %r", exc)
        finally:
            poll.shutdown()
            self._client = None

    async def _close_now(self) -> None:
        if self._client is not None and self._poll is not None:
            self._closing = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.wrap_future(self._poll.submit(self._client.close)), STOP_TIMEOUT
                )
            self._poll.shutdown()
        self._client = None

    # -- rebalances (callbacks on the poll thread) -------------------------------

    def _on_loop(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run an engine handler on the loop; block the poll thread until it finished.

        Meanwhile the poll thread runs the librdkafka requests the loop makes
        (:meth:`_request`): during a rebalance callback librdkafka answers a
        ``committed()`` or ``commit()`` made on the callback's thread, and leaves one
        made on any other thread waiting until the callback returned (measured: it
        never returns, whatever its timeout).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            return
        with self._lock:
            self._in_callback = True
        done = asyncio.run_coroutine_threadsafe(coro, loop)
        done.add_done_callback(lambda _: self._callback_calls.put(None))
        while (call := self._callback_calls.get()) is not None:
            _run_call(call)
        with self._lock:
            self._in_callback = False
            late = []
            while True:
                try:
                    item = self._callback_calls.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    late.append(item)
        for call in late:
            _run_call(call)
        try:
            done.result()
        except Exception:
            log.exception("the engine's rebalance handler failed")

    async def _request(self, fn: Callable[..., T], *args: Any) -> T:
        """A librdkafka call that waits for a broker, on the poll thread, off the loop.

        librdkafka serializes the calls on one client, and answers one made during a
        rebalance callback only on the callback's thread: so it runs there while a
        callback waits for the engine, else between two consume() calls (a consume
        waits :data:`POLL_WAIT` at most).
        """
        with self._lock:
            if self._in_callback:
                future: concurrent.futures.Future[T] = concurrent.futures.Future()
                self._callback_calls.put((future, fn, args))
                queued = True
            else:
                queued = False
        if not queued:
            if self._poll is None:
                raise ClientClosedError("the Kafka client is stopped")
            future = self._poll.submit(fn, *args)
        return await asyncio.wrap_future(future)

    def _on_assign(self, client: RdConsumer, partitions: list[TopicPartition]) -> None:
        if self._closing:
            return
        tps = {self._tp(p.topic, p.partition) for p in partitions}
        self._begin_assignment(tps)
        try:
            self._on_loop(self._handler.on_partitions_assigned(set(tps)))
            self._resolve_resets(client)
        finally:
            self._apply_assignment(self._incremental)
            self._read_group_identity()

    def _begin_assignment(self, tps: set[TP]) -> None:
        """Collect the engine's seeks and pauses for ``tps`` until they are assigned."""
        with self._lock:
            self._pending = dict.fromkeys(tps, OFFSET_INVALID)
            self._pending_paused = set()

    def _resolve_resets(self, client: RdConsumer) -> None:
        """Turn ``auto.offset.reset`` into offsets for the pending partitions that have
        neither a committed offset nor a seek: one ListOffsets for them all.

        librdkafka resolves a reset itself but reports no position until it returns a
        record, so an empty partition would never count as read.  On the poll thread
        (in the callback), or before polling starts.
        """
        with self._lock:
            pending = dict(self._pending or {})
            unknown = [
                tp for tp, off in pending.items() if off < 0 and tp not in self._committed_seen
            ]
        if not unknown:
            return
        reset = str(self._config.get("auto.offset.reset", "latest")).lower()
        at = OFFSET_BEGINNING if reset in ("earliest", "smallest", "beginning") else OFFSET_END
        if reset in ("error", "none"):
            return
        try:
            answer = _retrying(
                client.offsets_for_times,
                [TopicPartition(tp.topic, tp.partition, at) for tp in unknown],
                REQUEST_TIMEOUT,
            )
        except KafkaException as exc:
            log.warning("could not resolve auto.offset.reset=%s: %s", reset, exc.args[0].str())
            return
        with self._lock:
            for kafka_tp in answer:
                tp = TP(kafka_tp.topic, kafka_tp.partition)
                if (
                    kafka_tp.error is None
                    and kafka_tp.offset >= 0
                    and self._pending is not None
                    and self._pending.get(tp, 0) < 0
                ):
                    self._pending[tp] = kafka_tp.offset

    def _apply_assignment(self, incremental: bool) -> None:
        """Assign the pending partitions at the offsets the engine chose, then pause
        those it paused.  On the poll thread (in a callback) or the loop (no group)."""
        with self._lock:
            pending, paused = self._pending or {}, self._pending_paused
            # A partition the engine did not seek starts at the group's committed offset,
            # which the engine has just read: assigned there explicitly, it is known.
            for tp, offset in pending.items():
                if offset < 0 and tp in self._committed_seen:
                    pending[tp] = self._committed_seen[tp]
            self._committed_seen = {}
            offsets = [TopicPartition(tp.topic, tp.partition, off) for tp, off in pending.items()]
            client = self.client
            if incremental:
                client.incremental_assign(offsets)
            else:
                client.assign(offsets)
                self._assigned.clear()
                self._paused.clear()
                self._seeks, self._rd_paused = {}, set()
            for tp, offset in pending.items():
                self._assigned[tp] = TopicPartition(tp.topic, tp.partition)
                if offset >= 0:
                    self._starts[tp] = offset
                else:
                    self._starts.pop(tp, None)
            self._pending, self._pending_paused = None, set()
            if paused:
                client.pause([TopicPartition(tp.topic, tp.partition) for tp in paused])
                self._paused |= paused
                self._rd_paused |= paused
            self._snapshot(client)

    def _on_revoke(self, client: RdConsumer, partitions: list[TopicPartition]) -> None:
        tps = {self._tp(p.topic, p.partition) for p in partitions}
        if not self._closing:
            self._on_loop(self._revoke_engine(tps))
        self._unassign(client, partitions, tps)

    def _on_lost(self, client: RdConsumer, partitions: list[TopicPartition]) -> None:
        """Partitions lost (session timed out): the engine revokes; its commit fails."""
        self._on_revoke(client, partitions)

    async def _revoke_engine(self, tps: set[TP]) -> None:
        await self._handler.on_rebalance_started()
        await self._handler.on_partitions_revoked(set(tps))

    def _unassign(self, client: RdConsumer, partitions: list[TopicPartition], tps: set[TP]) -> None:
        try:
            if self._incremental:
                client.incremental_unassign(partitions)
            else:
                client.unassign()
        except KafkaException as exc:
            log.debug("unassign: %s", exc)
        with self._lock:
            if self._incremental:
                for tp in tps:
                    self._assigned.pop(tp, None)
                    self._paused.discard(tp)
                    self._rd_paused.discard(tp)
                    self._starts.pop(tp, None)
                    self._seeks.pop(tp, None)
                self._positions = {k: v for k, v in self._positions.items() if k not in tps}
                self._ends = {k: v for k, v in self._ends.items() if k not in tps}
            else:
                self._assigned.clear()
                self._paused.clear()
                self._rd_paused.clear()
                self._starts.clear()
                self._seeks.clear()
                self._positions, self._ends = {}, {}

    def _tp(self, topic: str, partition: int) -> TP:
        key = (topic, partition)
        tp = self._tp_cache.get(key)
        if tp is None:
            tp = self._tp_cache[key] = TP(topic, partition)
        return tp

    # -- fetching ---------------------------------------------------------------

    async def getmany(self, timeout: float) -> Mapping[TP, Sequence[RecordLike]]:
        """One batch from the poll thread.  Caller: ``Consumer.drain_messages``.

        A call cancelled while its consume() runs leaves the records to the next call:
        librdkafka's position is already past them.
        """
        if self._client is None or self._poll is None:
            raise ClientClosedError("the Kafka client is stopped")
        if self._errors:
            error = self._errors.pop(0)
            raise KConsumeError(f"librdkafka: {error.str()}")
        if self._inflight is None or self._inflight.cancelled():
            self._inflight = self._poll.submit(self._consume, min(timeout, POLL_WAIT))
        # Shielded: cancelling this call leaves the consume() and its records in place.
        result = await asyncio.shield(asyncio.wrap_future(self._inflight))
        self._inflight = None
        return result

    def _consume(self, wait: float) -> dict[TP, list[RdRecord]]:
        """On the poll thread: a first record (waiting up to ``wait``), then what is queued."""
        client = self._client
        if client is None or self._closing:
            return {}
        self._apply_ops(client)
        messages: list[Any] = client.consume(self._batch, 0)
        if not messages:
            messages = client.consume(1, wait)
            if messages and self._batch > 1:
                messages.extend(client.consume(self._batch - 1, 0))
        out: dict[TP, list[RdRecord]] = {}
        cache = self._tp_cache
        last_key: Any = None
        records: list[RdRecord] = []
        m: Any
        for m in messages:
            error = m.error()
            if error is not None:
                self._message_error(error, m)
                continue
            key = (m.topic(), m.partition())
            if key != last_key:
                tp = cache.get(key) or self._tp(*key)
                records = out.setdefault(tp, [])
                last_key = key
            records.append(
                RdRecord(m.offset(), m.timestamp()[1], m.key(), m.value(), m.headers() or ())
            )
        self._snapshot(client)
        return out

    def _message_error(self, error: KafkaError, message: Any) -> None:
        """A consume() result that is an error, not a record: fatal ones stop the run."""
        code = error.code()
        if code == KafkaError._PARTITION_EOF:
            return
        where = f"{message.topic()}[{message.partition()}]" if message.topic() else "the client"
        if error.fatal() or code in (
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            KafkaError.UNKNOWN_TOPIC_OR_PART,
            KafkaError._BAD_COMPRESSION,
            KafkaError._NOT_IMPLEMENTED,
        ):
            self._errors.append(error)
            log.debug("librdkafka error for %s: %s", where, error.str())
            return
        log.warning("librdkafka: %s: %s", where, error.str())

    def _snapshot(self, client: RdConsumer) -> None:
        """On the poll thread, after a consume(): every assigned partition's position
        (past every record returned, and past the transaction markers librdkafka read)
        and the end its last fetch reported, for the loop to read without a call."""
        assigned = list(self._assigned.values())
        if not assigned:
            self._positions, self._ends = {}, {}
            return
        positions: dict[TP, int] = {}
        # An end stays known once a fetch reported it: librdkafka forgets it when it
        # loses the partition's leader (a broker that went away), and the watchdog
        # needs it then to tell a stalled fetch.
        assigned_tps = self._assigned
        ends = {tp: end for tp, end in self._ends.items() if tp in assigned_tps}
        starts = self._starts
        try:
            answer = client.position(assigned)
        except KafkaException:
            answer = []
        for kafka_tp in answer:
            tp = self._tp(kafka_tp.topic, kafka_tp.partition)
            if kafka_tp.offset >= 0 and kafka_tp.error is None:
                positions[tp] = kafka_tp.offset
            elif (start := starts.get(tp)) is not None:
                positions[tp] = start  # nothing returned since the assignment or the seek
        for kafka_tp in assigned:
            with contextlib.suppress(KafkaException):
                _, high = client.get_watermark_offsets(kafka_tp, cached=True)
                if high >= 0:
                    ends[self._tp(kafka_tp.topic, kafka_tp.partition)] = high
        self._positions, self._ends = positions, ends

    def fetch_positions(self) -> dict[TP, int]:
        """Where the last consume() left each assigned partition, with the seeks made
        since (they apply before the next one).  No call to librdkafka."""
        positions = self._positions
        if self._seeks:
            positions = {**positions, **self._seeks}
        return positions

    async def position(self, tp: TP) -> int | None:
        tp = TP(tp[0], tp[1])
        pending = self._pending
        if pending is not None and tp in pending:
            return pending[tp] if pending[tp] >= 0 else None
        return self.fetch_positions().get(tp) if tp in self._assigned else None

    def highwater(self, tp: TP) -> int | None:
        """The end the last fetch reported (librdkafka keeps the last stable offset
        there under read_committed: the highwater and the fetch end are one)."""
        return self._ends.get(tp) if tp in self._assigned else None

    def fetch_end(self, tp: TP) -> int | None:
        return self.highwater(tp)

    # -- flow control (applied on the poll thread, before the next consume) -----------

    def _apply_ops(self, client: RdConsumer) -> None:
        """On the poll thread: the seeks, pauses and resumes the loop asked for.

        librdkafka serializes calls on one client (a call from another thread waits
        for a running consume()), so the loop never calls it: it records what it
        wants, and the engine already treats records of a partition it paused as
        given back.
        """
        with self._lock:
            seeks, self._seeks = self._seeks, {}
            assigned = self._assigned
            seeks = {tp: off for tp, off in seeks.items() if tp in assigned}
            wanted = self._paused & assigned.keys()
            pause = wanted - self._rd_paused
            resume = self._rd_paused - wanted
            self._rd_paused = wanted
        if pause:
            client.pause([TopicPartition(tp.topic, tp.partition) for tp in pause])
        resume = {tp for tp in resume if tp in assigned}
        if resume:
            client.resume([TopicPartition(tp.topic, tp.partition) for tp in resume])
            # Seen with librdkafka 2.16: a partition sought, then paused and resumed
            # before it returned a record, was never fetched again.  A resumed
            # partition is sought to where the engine reads next, which is always right.
            for tp in resume:
                if tp not in seeks and (position := self._positions.get(tp)) is not None:
                    seeks[tp] = position
        for tp, offset in seeks.items():
            try:
                client.seek(TopicPartition(tp.topic, tp.partition, offset))
            except KafkaException as exc:
                log.warning("seek of %s to %d failed: %s", tp, offset, exc.args[0].str())
                continue
            self._starts[tp] = offset  # librdkafka reports no position until a record

    def seek(self, tp: TP, offset: int) -> None:
        """Fetch ``tp`` from ``offset`` next (applied before the next consume())."""
        tp = TP(tp[0], tp[1])
        with self._lock:
            if self._pending is not None and tp in self._pending:
                self._pending[tp] = offset
            elif tp in self._assigned:
                self._seeks[tp] = offset

    def pause(self, tps: Iterable[TP]) -> None:
        with self._lock:
            for tp in tps:
                tp = TP(tp[0], tp[1])
                if self._pending is not None and tp in self._pending:
                    self._pending_paused.add(tp)
                elif tp in self._assigned:
                    self._paused.add(tp)

    def resume(self, tps: Iterable[TP]) -> None:
        with self._lock:
            for tp in tps:
                tp = TP(tp[0], tp[1])
                if self._pending is not None and tp in self._pending:
                    self._pending_paused.discard(tp)
                else:
                    self._paused.discard(tp)

    # -- commits and offsets ------------------------------------------------------

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        """Commit exactly ``offsets``, synchronously; raise naming a partition's error."""
        wanted = [TopicPartition(tp[0], tp[1], offset) for tp, offset in offsets.items()]
        client = self.client
        answer = await self._request(lambda: client.commit(offsets=wanted, asynchronous=False))
        _check(answer or [], "commit")

    async def committed(self, tps: Iterable[TP]) -> dict[TP, int | None]:
        tps = [TP(tp[0], tp[1]) for tp in tps]
        if self._group_id is None or not tps:
            return dict.fromkeys(tps)
        client = self.client
        answer = await self._request(client.committed, _tps(tps), REQUEST_TIMEOUT)
        result: dict[TP, int | None] = dict.fromkeys(tps)
        for kafka_tp in answer:
            if kafka_tp.error is not None:
                log.warning(
                    "could not read the committed offset of %s[%d]: %s",
                    kafka_tp.topic, kafka_tp.partition, kafka_tp.error.str(),
                )  # fmt: skip
                continue
            if kafka_tp.offset >= 0:
                tp = TP(kafka_tp.topic, kafka_tp.partition)
                result[tp] = kafka_tp.offset
                with self._lock:
                    if self._pending is not None and tp in self._pending:
                        self._committed_seen[tp] = kafka_tp.offset
        await self._report_below_log_start(result)
        return result

    async def _report_below_log_start(self, committed: Mapping[TP, int | None]) -> None:
        """Warn about committed offsets below their partition's log start, as the
        aiokafka transport does (same words), and start those partitions where
        ``auto.offset.reset`` says: retention or deleted records moved the log start
        past the group's offset.  Read from the broker's answer (ListOffsets, earliest).
        """
        known = {tp: offset for tp, offset in committed.items() if offset is not None}
        if not known:
            return
        try:
            starts = await self._list_offsets(list(known), OFFSET_BEGINNING)
        except KConsumeError as exc:
            log.debug("could not read the log starts: %s", exc)
            return
        reset = str(self._config.get("auto.offset.reset", "latest")).lower()
        earliest = reset in ("earliest", "smallest", "beginning")
        where = (
            "the log start"
            if earliest
            else "the end"
            if reset in ("latest", "largest", "end")
            else None
        )
        for tp, offset in known.items():
            start = starts.get(tp)
            if start is None or start < 0 or offset >= start:
                continue
            with self._lock:
                if self._pending is not None and tp in self._pending:
                    if earliest:
                        self._committed_seen[tp] = start
                    else:  # resolved with the others that have no usable offset
                        self._committed_seen.pop(tp, None)
            log.warning(
                "%s[%d]: the group's committed offset %d is below the log start %d "
                "(records %d..%d are gone: retention or deleted records); "
                "starting at %s (auto_offset_reset=%s)",
                tp.topic, tp.partition, offset, start, offset, start - 1,
                f"{where}, {start}" if earliest else where or "nowhere: the fetch fails",
                reset,
            )  # fmt: skip

    async def _list_offsets(self, tps: list[TP], at: int) -> dict[TP, int]:
        """ListOffsets for every partition at once (``at``: a time in ms, or
        OFFSET_END/OFFSET_BEGINNING); -1 where nothing is at or after the time."""
        client = self.client
        wanted = [TopicPartition(tp.topic, tp.partition, at) for tp in tps]
        answer = await self._request(_retrying, client.offsets_for_times, wanted, REQUEST_TIMEOUT)
        _check(answer, "ListOffsets")
        return {TP(tp.topic, tp.partition): tp.offset for tp in answer}

    async def listed_end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """ListOffsets(latest) alone (the last stable offset under read_committed)."""
        wanted = [TP(tp[0], tp[1]) for tp in tps]
        return await self._list_offsets(wanted, OFFSET_END) if wanted else {}

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        listed = await self.listed_end_offsets(tps)
        return await self._confirm_ends(listed) if listed else {}

    async def _confirm_ends(self, listed: dict[TP, int]) -> dict[TP, int]:
        """Check listed ends against a fetch's end (Tansu lists short of it), as the
        aiokafka transport does: a probe client fetches from just before each end."""
        probe_tps = [tp for tp, offset in listed.items() if offset > 0]
        if not probe_tps:
            return listed
        config = {
            k: v
            for k, v in self._config.items()
            if k not in ("group.id", "client.id") and not callable(v)
        }
        config.update({"group.id": "kconsume-probe", "fetch.wait.max.ms": 50})
        ends = dict(listed)

        def probe() -> set[TP]:
            client = RdConsumer(config)
            missing = set(probe_tps)
            try:
                client.assign(
                    [TopicPartition(tp.topic, tp.partition, listed[tp] - 1) for tp in probe_tps]
                )
                deadline = time.monotonic() + base.END_CONFIRM_TIMEOUT
                while missing and time.monotonic() < deadline:
                    client.consume(len(probe_tps), 0.1)
                    for tp in list(missing):
                        _, high = client.get_watermark_offsets(
                            TopicPartition(tp.topic, tp.partition), cached=True
                        )
                        if high >= 0:
                            ends[tp] = max(listed[tp], high)
                            missing.discard(tp)
            finally:
                client.close()
            return missing

        missing = await _in_thread(probe)
        if missing:
            raise base.ends_unconfirmed(missing)
        return ends

    async def start_offsets(self, tps: Iterable[TP], start: StartAt) -> dict[TP, int]:
        wanted = [TP(tp[0], tp[1]) for tp in tps]
        if not wanted:
            return {}
        begin = await self._list_offsets(wanted, OFFSET_BEGINNING)
        if start.kind == "beginning":
            return begin
        end = await self.end_offsets(wanted)
        found = await self._list_offsets(wanted, start.value) if start.kind == "time" else {}
        out: dict[TP, int] = {}
        for tp in wanted:
            hit = found.get(tp, -1)
            out[tp] = start.offset_between(begin[tp], end[tp], None if hit < 0 else hit)
        return out


def bootstrap(url: str) -> str:
    """``rdkafka://a:9092,b:9092`` (or plain ``a:9092,b``) to librdkafka's server list."""
    rest = url.split("://", 1)[1] if "://" in url else url
    if "://" in url and not url.startswith(("rdkafka://", "librdkafka://")):
        raise KConsumeError(f"unsupported broker URL {url!r}: use rdkafka://host:port")
    servers = []
    for part in rest.strip("/").split(","):
        part = part.strip()
        if part:
            servers.append(part if ":" in part else f"{part}:9092")
    if not servers:
        raise KConsumeError(f"no broker address in {url!r}")
    return ",".join(servers)


class RdKafkaTransport(Transport):
    """``rdkafka://`` URLs.  Settings: ``group_id``, ``client_id``, ``auto_offset_reset``,
    ``partitions``, ``config`` (librdkafka's own names, as ``-X``), and the aiokafka
    transport's names for the same things (see :func:`rdkafka_config`).
    """

    def consumer_class(self) -> type[Consumer]:
        return RdKafkaConsumer

    def create_driver(self, handler: RebalanceHandler) -> ConsumerDriver:
        settings = dict(self.settings)
        group_id = settings.pop("group_id", None)
        client_id = settings.pop("client_id", None) or "kconsume"
        reset = settings.pop("auto_offset_reset", None) or "earliest"
        partitions = settings.pop("partitions", None)
        config, batch = rdkafka_config(settings)
        return RdKafkaDriver(
            handler,
            bootstrap(self.url),
            group_id=group_id,
            client_id=client_id,
            auto_offset_reset=reset,
            partitions=partitions,
            config=config,
            batch=batch,
        )
