"""Consumption throughput of the kconsume engine next to a raw aiokafka getmany loop.

Run with ``make bench`` (or ``.venv/bin/python bench/run.py --messages N --rounds R``).

One embedded broker, one topic filled once with small JSON orders, then every row
reads the whole topic from the beginning, interleaved round by round (raw loop,
engine, engine, ..., raw loop, engine, ...) so that a noisy machine slows all rows
alike.  Only the ratios against the raw loop in the same run mean anything: the
absolute numbers depend on whatever else the machine is doing.

Every row times the same span: from the moment its partitions are assigned (the
raw loop: ``assign()`` returned; the engine: its ``PartitionsAssigned`` event) to
the moment the last of the N messages reached the reading code.  Starting the
clock at the first message instead would hide the engine's first fetch: it decodes
and buffers a whole fetched batch (often tens of thousands of records) before the
stream yields its first event.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.producer.message_accumulator import BatchBuilder
from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka import Consumer as RdConsumer
from confluent_kafka import TopicPartition as RdTopicPartition
from schemas import AVRO_BASELINE, AVRO_ROWS, avro_registry, fill

from kconsume import App, EngineEvent, PartitionsAssigned, Stream
from kconsume.admin import create_topics
from kconsume.broker import EmbeddedBroker
from kconsume.cli.runtime import tune_gc
from kconsume.consume import ConsumeOptions, run_consume
from kconsume.engine import StartAt
from kconsume.engine.transport.rdkafka import DEFAULT_CONFIG as RDKAFKA_DEFAULTS
from kconsume.tail import TailSession
from kconsume.tui import DashboardApp

TOPIC = "bench-orders"

BROKER_NAMES = {"tansu": "Tansu (embedded, in memory)", "kafka": "Apache Kafka (KRaft, one JVM)"}


class Broker(Protocol):
    """What the bench uses of a broker (EmbeddedBroker, tests.apache_kafka.KafkaBroker)."""

    @property
    def url(self) -> str: ...
    @property
    def bootstrap(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Setup:
    """What every row reads: the broker, the topic, and how many messages it holds."""

    broker: Broker
    topic: str
    partitions: int
    messages: int


#: A row reads the whole topic once and returns the seconds it took.
RowFun = Callable[[Setup], Awaitable[float]]


@dataclass(slots=True)
class Row:
    label: str
    run: RowFun
    baseline: str
    """Label of the row this one's ratio is computed against."""
    rates: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    also: str | None = None
    """Label of a second row this one's ratio is given against, if any."""

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None


# -- the data -------------------------------------------------------------------


def order(i: int) -> bytes:
    """A small JSON order, about 100 bytes."""
    return orjson.dumps(
        {
            "order": i,
            "customer": f"c{i % 97}",
            "total": 12.5,
            "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
        }
    )


async def produce(setup: Setup) -> float:
    """Fill the topic: messages spread round-robin over the partitions, sent in big batches."""
    await create_topics(setup.broker.url, {setup.topic: setup.partitions})
    client = AIOKafkaProducer(
        bootstrap_servers=setup.broker.bootstrap,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
    )
    await client.start()
    started = time.perf_counter()
    try:
        batches = [client.create_batch() for _ in range(setup.partitions)]
        sent: list[asyncio.Future[object]] = []
        for i in range(setup.messages):
            partition = i % setup.partitions
            value = order(i)
            if batches[partition].append(key=None, value=value, timestamp=None) is None:
                sent.append(await send(client, batches[partition], setup.topic, partition))
                batches[partition] = client.create_batch()
                batches[partition].append(key=None, value=value, timestamp=None)
        for partition, batch in enumerate(batches):
            sent.append(await send(client, batch, setup.topic, partition))
        await asyncio.gather(*sent)
    finally:
        await client.stop()
    return time.perf_counter() - started


async def send(
    client: AIOKafkaProducer, batch: BatchBuilder, topic: str, partition: int
) -> asyncio.Future[object]:
    batch.close()
    fut: asyncio.Future[object] = await client.send_batch(batch, topic, partition=partition)
    return fut


# -- the rows -------------------------------------------------------------------


async def raw_getmany(setup: Setup) -> float:
    """The baseline: aiokafka's own getmany loop, decoding every value with orjson."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=setup.broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(setup.topic, p) for p in range(setup.partitions)])
        started = time.perf_counter()
        count = 0
        loads = orjson.loads
        while count < setup.messages:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    loads(record.value)
                count += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def raw_rdkafka_loop(setup: Setup, config: dict[str, object]) -> float:
    """confluent-kafka's own loop: ``consume(n, 1.0)``, orjson.loads on every value.

    Blocking, as a user writes it without asyncio (run on a thread so the bench's loop
    keeps going); timed from ``assign()`` returning, like the aiokafka loop.  ``n`` is
    10,000, or what is left to read: ``consume(n, timeout)`` returns only once it has
    ``n`` messages or the timeout passed, so asking for more than is left would wait
    out the timeout at the end.
    """
    consumer = RdConsumer(
        {
            "bootstrap.servers": setup.broker.bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **config,
        }
    )
    try:
        consumer.assign(
            [RdTopicPartition(setup.topic, p, OFFSET_BEGINNING) for p in range(setup.partitions)]
        )
        started = time.perf_counter()
        count = 0
        loads = orjson.loads
        while count < setup.messages:
            for message in consumer.consume(min(10_000, setup.messages - count), 1.0):
                if message.error() is None:
                    loads(message.value())
                    count += 1
        return time.perf_counter() - started
    finally:
        consumer.close()


async def raw_rdkafka(setup: Setup) -> float:
    """The raw confluent-kafka loop with the fast settings the librdkafka transport uses."""
    tuned = {k: v for k, v in RDKAFKA_DEFAULTS.items() if not k.startswith("enable.")}
    return await asyncio.to_thread(raw_rdkafka_loop, setup, tuned)


async def raw_rdkafka_defaults(setup: Setup) -> float:
    """The same loop with librdkafka's defaults (``fetch.queue.backoff.ms`` 1000)."""
    return await asyncio.to_thread(raw_rdkafka_loop, setup, {})


async def read(stream: Stream, n: int) -> None:
    """What a user's agent does: iterate the stream (decoded JSON) until n events are seen."""
    count = 0
    async for _event in stream:
        count += 1
        if count == n:
            break


async def read_batches(stream: Stream, n: int) -> None:
    """The same through ``stream.take(500, within=1.0)``: lists of events, released per list."""
    count = 0
    async for events in stream.take(500, within=1.0):
        count += len(events)
        if count >= n:
            break


async def run_engine(
    setup: Setup,
    app: App,
    streams: list[Stream],
    reader: Callable[[Stream, int], Awaitable[None]] = read,
) -> float:
    """Start ``app``, read every stream to the end of the topic, return the seconds taken."""
    assigned_at: list[float] = []

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, PartitionsAssigned) and event.tps and not assigned_at:
            assigned_at.append(time.perf_counter())

    app.events.subscribe(on_event)
    await app.start()
    try:
        await asyncio.gather(*(reader(stream, setup.messages) for stream in streams))
        finished = time.perf_counter()
    finally:
        await app.stop()
    if not assigned_at:
        raise RuntimeError("the engine read the topic without a PartitionsAssigned event")
    return finished - assigned_at[0]


async def engine_one_stream(setup: Setup) -> float:
    """Observer mode (no group): every partition assigned, no commits."""
    app = App(setup.broker.url, group_id=None, auto_offset_reset="earliest")
    stream = app.stream(setup.topic, value="json")
    return await run_engine(setup, app, [stream])


async def engine_take(setup: Setup) -> float:
    """Observer mode, one stream read in batches with ``take(500, within=1.0)``."""
    app = App(setup.broker.url, group_id=None, auto_offset_reset="earliest")
    stream = app.stream(setup.topic, value="json")
    return await run_engine(setup, app, [stream], read_batches)


async def engine_one_stream_rdkafka(setup: Setup) -> float:
    """The observer-mode row on the librdkafka transport (``rdkafka://``)."""
    app = App(f"rdkafka://{setup.broker.bootstrap}", group_id=None, auto_offset_reset="earliest")
    stream = app.stream(setup.topic, value="json")
    return await run_engine(setup, app, [stream])


async def engine_group(setup: Setup) -> float:
    """A fresh consumer group: subscribe, join, commit every second."""
    app = App(
        setup.broker.url,
        group_id=f"bench-{uuid.uuid4().hex[:12]}",
        auto_offset_reset="earliest",
        commit_interval=1.0,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
    )
    stream = app.stream(setup.topic, value="json")
    return await run_engine(setup, app, [stream])


async def engine_group_observed_stalled(setup: Setup) -> float:
    """The group row with its observe endpoint on, and an ``/events`` client that stops
    reading: it connects (4 KB receive buffer) as the engine starts and never reads a
    byte of the events (commits among them) sent to it.  Issue 11: within 5% of the
    group row.  Measured with :func:`run_engine`, like the row it is compared with."""
    app = App(
        setup.broker.url,
        group_id=f"bench-{uuid.uuid4().hex[:12]}",
        auto_offset_reset="earliest",
        commit_interval=1.0,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
        observe="127.0.0.1:0",
    )
    stream = app.stream(setup.topic, value="json")
    writers: list[asyncio.StreamWriter] = []
    assigned = asyncio.Event()  # the endpoint starts before the engine is assigned anything
    app.events.subscribe(lambda e: assigned.set() if isinstance(e, PartitionsAssigned) else None)

    async def stall() -> None:
        await assigned.wait()
        port = getattr(app.observer, "port", None)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        writer.write(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        writers.append(writer)

    staller = asyncio.create_task(stall())
    try:
        return await run_engine(setup, app, [stream])
    finally:
        staller.cancel()
        for writer in writers:
            writer.close()
        if not writers:
            raise RuntimeError("the stalled client never connected")


async def engine_three_streams(setup: Setup) -> float:
    """Three streams on the topic with the same codecs: one decode, three readers.

    The rate counts messages of the topic, not events: all three read every message.
    """
    app = App(setup.broker.url, group_id=None, auto_offset_reset="earliest")
    streams = [app.stream(setup.topic, value="json", name=f"reader-{i}") for i in range(3)]
    return await run_engine(setup, app, streams)


#: The ``--where`` rows' condition: keeps every other order (half the messages).
WHERE = "value['order'] % 2 == 0"


def keeps_half(value: Any) -> bool:
    """:data:`WHERE`, as the raw loop writes it in Python."""
    return bool(value["order"] % 2 == 0)


async def raw_jsonl(setup: Setup, keep: Callable[[Any], bool] | None = None) -> float:
    """The ``consume`` baseline: aiokafka's getmany loop writing the same JSON lines.

    With ``keep``, only the records whose decoded value it keeps are written.  Runs until
    as many lines as the matching consume row's ``-c`` were written.  Timed from before
    ``start()`` to the last write, like the consume rows, which include connecting.
    """
    wanted = setup.messages if keep is None else setup.messages // 2
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=setup.broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(setup.topic, p) for p in range(setup.partitions)])
        loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
        written = 0
        with open(os.devnull, "wb") as out:
            while written < wanted:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    lines = []
                    for r in records:
                        value = loads(r.value)
                        if keep is not None and not keep(value):
                            continue
                        lines.append(
                            dumps(
                                {
                                    "topic": r.topic,
                                    "partition": r.partition,
                                    "offset": r.offset,
                                    "timestamp": r.timestamp,
                                    "key": r.key,
                                    "value": value,
                                    "headers": {},
                                },
                                option=newline,
                            )
                        )
                        if written + len(lines) >= wanted:
                            break
                    out.write(b"".join(lines))
                    out.flush()
                    written += len(lines)
                    if written >= wanted:
                        break
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def raw_jsonl_where(setup: Setup) -> float:
    """The ``--where`` baseline: the same loop keeping the records :data:`WHERE` keeps."""
    return await raw_jsonl(setup, keeps_half)


async def consume_jsonl(
    setup: Setup, where: list[str] | None = None, client: str = "aiokafka"
) -> float:
    """``kconsume consume TOPIC -o beginning -c N --format jsonl > /dev/null``, in process.

    Count-terminated (``-c``), like its baseline, so the figure does not depend on how
    ``-e`` finds the end.
    """
    url = setup.broker.url if client == "aiokafka" else f"rdkafka://{setup.broker.bootstrap}"
    options = ConsumeOptions(
        [setup.topic],
        broker=url,
        offset=StartAt("beginning"),
        count=setup.messages if not where else setup.messages // 2,
        output_format="jsonl",
        where=where or [],
    )
    errors = io.StringIO()
    started = time.perf_counter()
    with open(os.devnull, "wb") as out:
        code = await run_consume(options, out, errors)
    if code:
        raise RuntimeError(f"consume exited {code}: {errors.getvalue()}")
    return time.perf_counter() - started


async def consume_jsonl_rdkafka(setup: Setup) -> float:
    """``consume --client librdkafka --format jsonl``."""
    return await consume_jsonl(setup, client="librdkafka")


async def consume_jsonl_where(setup: Setup) -> float:
    """The same with ``--where`` :data:`WHERE` (half the messages written)."""
    return await consume_jsonl(setup, [WHERE])


async def run_tail(setup: Setup, *, dashboard: bool) -> float:
    """``kconsume tail TOPIC -o beginning --value-format json``, in process, without a group.

    With ``dashboard`` the Textual dashboard is open (headless: it lays out and renders
    every frame, it just writes nowhere), polling the engine 10 times a second, set up
    as ``kconsume tail`` sets it up (``freeze_gc=True``).  The dashboard is up before
    the engine starts, so its start-up (CSS, compose, mount: a fixed cost of about a
    tenth of a second, paid once per run of the command) is not counted: what is
    measured is consuming *with the dashboard open*.  Timed from the assignment to the
    moment the last message reached the tail buffer.
    """
    options = ConsumeOptions(
        [setup.topic], broker=setup.broker.url, offset=StartAt("beginning"), value_format="json"
    )
    session = TailSession.from_options(options)
    assigned_at: list[float] = []

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, PartitionsAssigned) and event.tps and not assigned_at:
            assigned_at.append(time.perf_counter())

    session.subscribe(on_event)
    buffer = session.buffer
    app: DashboardApp | None = None
    ui: asyncio.Task[None] | None = None
    if dashboard:
        app = DashboardApp(session, freeze_gc=True)
        ready = asyncio.Event()

        async def up(pilot: object) -> None:
            ready.set()

        ui = asyncio.create_task(app.run_async(headless=True, size=(160, 50), auto_pilot=up))
        await ready.wait()
    try:
        async with session:
            while buffer.received < setup.messages:
                if session.done:
                    raise RuntimeError(f"the tail stopped: {session.status.detail}")
                await asyncio.sleep(0.002)
            finished = time.perf_counter()
    finally:
        if app is not None and ui is not None:
            app.exit()
            await ui
    if not assigned_at:
        raise RuntimeError("the tail read the topic without a PartitionsAssigned event")
    return finished - assigned_at[0]


async def tail_headless(setup: Setup) -> float:
    """The tail session alone: the engine plus the tail stream reading into its buffer."""
    return await run_tail(setup, dashboard=False)


async def tail_dashboard(setup: Setup) -> float:
    """The same with the dashboard open: issue 4 asks for 0.80 of the headless rate or more."""
    return await run_tail(setup, dashboard=True)


BASELINE = "raw aiokafka getmany + orjson.loads"
ENGINE_ONE_STREAM = "engine, 1 stream (no group)"
ENGINE_GROUP = "engine, 1 stream, group + commits"
TAIL_HEADLESS = "tail session, no dashboard"
JSONL_BASELINE = "raw aiokafka getmany writing JSON lines"
WHERE_BASELINE = "raw loop writing the lines WHERE keeps"
RAW_RDKAFKA = "raw confluent-kafka consume(), tuned"

#: (label, function, the row it is compared with)
ROWS: list[tuple[str, RowFun, str]] = [
    (BASELINE, raw_getmany, BASELINE),
    (ENGINE_ONE_STREAM, engine_one_stream, BASELINE),
    (ENGINE_GROUP, engine_group, BASELINE),
    # Issue 11: an observe endpoint with a client that stopped reading costs nothing.
    ("group + commits, observed, stalled client", engine_group_observed_stalled, ENGINE_GROUP),
    ("engine, 3 streams, shared codec", engine_three_streams, BASELINE),
    ("engine, 1 stream, take(500)", engine_take, BASELINE),
    # The tail against the headless engine, and the dashboard against the same tail
    # session headless: what having the dashboard open costs (issue 4: at least 0.80).
    (TAIL_HEADLESS, tail_headless, ENGINE_ONE_STREAM),
    ("consume through the dashboard", tail_dashboard, TAIL_HEADLESS),
    (JSONL_BASELINE, raw_jsonl, JSONL_BASELINE),
    ("consume -c N --format jsonl > /dev/null", consume_jsonl, JSONL_BASELINE),
    (WHERE_BASELINE, raw_jsonl_where, WHERE_BASELINE),
    ("consume -c N/2 --format jsonl --where WHERE", consume_jsonl_where, WHERE_BASELINE),
    ("consume --client librdkafka -c N -f jsonl", consume_jsonl_rdkafka, JSONL_BASELINE),
    # Issue 17: librdkafka (confluent-kafka), raw and under the engine.
    (RAW_RDKAFKA, raw_rdkafka, BASELINE),
    ("raw confluent-kafka, librdkafka defaults", raw_rdkafka_defaults, BASELINE),
    ("engine, 1 stream, librdkafka", engine_one_stream_rdkafka, RAW_RDKAFKA),
]
#: Rows whose ratio is also given against a second row: (row, other row).
ALSO = {"engine, 1 stream, librdkafka": BASELINE}


async def fill_avro(setup: Setup) -> None:
    """The Avro rows' topic: the same orders as Avro (bench/schemas.py)."""
    await fill(setup.broker, setup.messages, setup.partitions)


# -- measuring --------------------------------------------------------------------


async def measure(row: Row, setup: Setup, timeout: float) -> None:
    """Run one row once, bounded by ``timeout``; record its rate or why it failed."""
    gc.collect()
    try:
        seconds = await asyncio.wait_for(row.run(setup), timeout)
    except TimeoutError:
        row.failures.append(f"timed out after {timeout:g}s")
        return
    except Exception as exc:
        row.failures.append(f"{type(exc).__name__}: {exc}")
        return
    row.rates.append(setup.messages / seconds)


def report(rows: list[Row], setup: Setup, rounds: int) -> str:
    medians = {row.label: row.median for row in rows}
    lines = [
        f"kconsume bench: {setup.messages} messages, {setup.partitions} partitions, "
        f"{rounds} rounds (median msgs/s; ratio vs its baseline in the same run: "
        "the raw aiokafka loop above it, or the row named after the ratio)"
    ]
    for row in rows:
        if row.label == row.baseline and row is not rows[0]:
            lines.append("")
        baseline = medians.get(row.baseline)
        median = row.median
        if median is None:
            lines.append(f"{row.label:<40} {'failed':>10}          {'; '.join(row.failures)}")
            continue
        ratio = f"{median / baseline:5.2f}" if baseline else "    -"
        spread = f"{min(row.rates):,.0f}..{max(row.rates):,.0f}"
        failed = f"  ({len(row.failures)} failed: {row.failures[0]})" if row.failures else ""
        plain = (BASELINE, JSONL_BASELINE, WHERE_BASELINE, AVRO_BASELINE)
        against = "" if row.baseline in plain else f" vs {row.baseline}"
        second = medians.get(row.also) if row.also else None
        if second:
            against += f", {median / second:.2f} vs {row.also}"
        lines.append(
            f"{row.label:<40} {median:>10,.0f} msg/s  {ratio}{against}   [{spread}]{failed}"
        )
    return "\n".join(lines)


def start_broker(kind: str) -> AbstractContextManager[Broker]:
    """The broker to measure against: Tansu (embedded) or Apache Kafka (the reference
    broker of ``make test-kafka``: needs java, and mvn the first time)."""
    if kind == "kafka":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.apache_kafka import KafkaBroker

        return KafkaBroker()
    return EmbeddedBroker()


async def bench(
    messages: int, rounds: int, partitions: int, timeout: float, broker: str, tuned_gc: bool
) -> int:
    """Every row runs under the garbage-collector settings of kconsume's commands
    (``tune_gc``), the raw loops too; ``tuned_gc=False`` keeps Python's defaults."""
    rows = [
        Row(label, fun, baseline, also=ALSO.get(label)) for label, fun, baseline in ROWS + AVRO_ROWS
    ]
    if tuned_gc:
        tune_gc()
    with start_broker(broker) as running, avro_registry():
        setup = Setup(running, TOPIC, partitions, messages)
        seconds = await produce(setup)
        await fill_avro(setup)
        print(
            f"{broker}: produced {messages} messages in {seconds:.1f}s; measuring...",
            file=sys.stderr,
        )
        for n in range(rounds):
            for row in rows:
                await measure(row, setup, timeout)
                last = f"{row.rates[-1]:,.0f} msg/s" if row.rates else "failed"
                print(f"  round {n + 1}: {row.label}: {last}", file=sys.stderr)
    print(f"broker: {BROKER_NAMES[broker]}")
    gc_settings = "kconsume's (tune_gc)" if tuned_gc else "Python's defaults"
    print(f"garbage collector: {gc_settings}, threshold {gc.get_threshold()}")
    print(report(rows, setup, rounds))
    return 1 if any(row.failures for row in rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200_000, help="messages in the topic")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the topic")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds one measurement may take"
    )
    parser.add_argument(
        "--broker",
        choices=sorted(BROKER_NAMES),
        default=os.environ.get("BROKER") or "tansu",
        help="the broker to read from (default: $BROKER, or tansu)",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep Python's garbage-collector settings (default: those of kconsume's commands)",
    )
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1 or args.partitions < 1:
        parser.error("--messages, --rounds and --partitions must be at least 1")
    return asyncio.run(
        bench(
            args.messages,
            args.rounds,
            args.partitions,
            args.timeout,
            args.broker,
            tuned_gc=not args.default_gc,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
