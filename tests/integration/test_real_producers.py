"""Topics written by producers that are not kconsume's, read by every reading path.

librdkafka (confluent-kafka) with each compression codec, an idempotent producer, a
transactional one with committed and aborted transactions, and aiokafka in large
batches.  Every path must yield exactly the produced set, compared record by record
by (partition, offset, key, value, headers): ``consume -o beginning -e`` with and
without a group, ``consume -c N``, ``--until``, the tail session behind ``kconsume
tail``, ``peek``, and an App agent under ``kconsume run --headless``.

``consume -e`` (with and without a group), the tail session and ``run`` run on both
clients (the ``client`` fixture: aiokafka and librdkafka).  ``-c`` and ``--until``
stop on the same engine state as ``-e`` and run on aiokafka alone, to keep the suite
short; ``peek`` has no ``--client``; the unreadable-codec test hides aiokafka's codec
(librdkafka has every codec built in).
"""

from __future__ import annotations

import base64
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import Producer

from kconsume.consume import ConsumeOptions
from kconsume.engine import StartAt
from kconsume.tail import TailSession
from kconsume.tail.ribbon import Cell, ribbon_cells
from tests.brokers import Broker, client_url
from tests.helpers import wait_for
from tests.integration.conftest import group_committed
from tests.integration.real_topics import (
    BASE_TIME,
    ProducedTopic,
    Rec,
    assert_exactly,
    produce_aiokafka,
    produce_librdkafka,
    rec_from_jsonl,
    rec_from_parts,
)

pytestmark = pytest.mark.broker

#: Records per topic, over USED of PARTITIONS partitions (the last one stays empty).
COUNT = 6000
PARTITIONS = 5
USED = 4
FAST_GROUP = ("-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300")
RAW = ("-f", "jsonl", "--key-format", "raw", "--value-format", "raw")

#: How each topic is written: librdkafka settings, or "aiokafka".
PRODUCERS: dict[str, dict[str, Any] | str] = {
    "none": {"compression.type": "none"},
    "gzip": {"compression.type": "gzip"},
    "snappy": {"compression.type": "snappy"},
    "lz4": {"compression.type": "lz4"},
    "zstd": {"compression.type": "zstd"},
    "idempotent": {"enable.idempotence": True, "compression.type": "lz4"},
    "transactional": {"compression.type": "zstd"},
    "aiokafka": "aiokafka",
}


@pytest.fixture(scope="module")
def written(broker: Broker) -> Iterator[dict[str, ProducedTopic]]:
    """Topics written once per module, on first use (producing takes a moment)."""
    yield {}


@pytest.fixture(params=list(PRODUCERS))
def produced(
    request: pytest.FixtureRequest, broker: Broker, written: dict[str, ProducedTopic]
) -> ProducedTopic:
    kind: str = request.param
    if kind not in written:
        name = f"real-{kind}-{os.getpid()}"
        config = PRODUCERS[kind]
        if config == "aiokafka":
            written[kind] = produce_aiokafka(
                broker.url,
                broker.bootstrap,
                name,
                COUNT,
                partitions=PARTITIONS,
                used_partitions=USED,
            )
        else:
            assert isinstance(config, dict)
            transactional = kind == "transactional"
            written[kind] = produce_librdkafka(
                broker.bootstrap,
                name,
                COUNT,
                partitions=PARTITIONS,
                used_partitions=USED,
                config={**config, **({"transactional.id": name} if transactional else {})},
                transaction_size=700 if transactional else 0,
            )
    return written[kind]


def kconsume(
    broker: Broker, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kconsume", *args, "-b", broker.bootstrap],
        capture_output=True,
        timeout=timeout,
    )


def written_records(result: subprocess.CompletedProcess[bytes]) -> list[Rec]:
    assert result.returncode == 0, result.stderr.decode()
    return [rec_from_jsonl(orjson.loads(line)) for line in result.stdout.splitlines()]


async def log_ends(broker: Broker, topic: str) -> dict[int, int]:
    """Each partition's end from a fetch's highwater (right on every broker)."""
    client = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=1024,
        isolation_level="read_committed",
    )
    await client.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        client.assign(tps)
        for tp in tps:
            client.seek(tp, 0)
        while any(client.highwater(tp) is None for tp in tps):
            await client.getmany(timeout_ms=100)
        return {tp.partition: client.highwater(tp) for tp in tps}
    finally:
        await client.stop()


# -- consume ---------------------------------------------------------------------------


def test_consume_to_the_end_writes_exactly_the_topic(
    client: str, broker: Broker, produced: ProducedTopic
) -> None:
    result = kconsume(broker, "consume", produced.name, "-o", "beginning", "-e", *RAW)
    assert_exactly(written_records(result), produced)


async def test_consume_to_the_end_in_a_group_commits_the_log_end(
    client: str, broker: Broker, produced: ProducedTopic
) -> None:
    group = f"e-{client}-{produced.name}"
    result = kconsume(
        broker, "consume", produced.name, "-g", group, "-o", "beginning", "-e", *RAW, *FAST_GROUP
    )
    assert_exactly(written_records(result), produced)
    # Transaction markers after the last record never hold the commit back.
    ends = await log_ends(broker, produced.name)
    assert await group_committed(broker, group, produced.name) == ends
    again = kconsume(broker, "consume", produced.name, "-g", group, "-e", *RAW, *FAST_GROUP)
    assert written_records(again) == []


def test_consume_count_writes_a_prefix_of_each_partition(
    broker: Broker, produced: ProducedTopic
) -> None:
    count = len(produced) - 37
    result = kconsume(broker, "consume", produced.name, "-o", "beginning", "-c", str(count), *RAW)
    got = written_records(result)
    assert len(got) == count
    per_partition: dict[int, list[Rec]] = {}
    for record in got:
        per_partition.setdefault(record.partition, []).append(record)
    prefixes = [
        rec for p, recs in per_partition.items() for rec in produced.records[p][: len(recs)]
    ]
    assert_exactly(got, prefixes)


def test_consume_until_stops_each_partition_at_the_time(
    broker: Broker, produced: ProducedTopic
) -> None:
    until = BASE_TIME + COUNT // 2
    result = kconsume(
        broker, "consume", produced.name, "-o", "beginning", "--until", str(until), *RAW
    )
    wanted = [r for r in produced.all() if produced.timestamps[r.partition, r.offset] < until]
    assert_exactly(written_records(result), wanted)


# -- tail ------------------------------------------------------------------------------


async def test_tail_session_shows_exactly_the_topic_and_catches_up(
    client: str, broker: Broker, produced: ProducedTopic
) -> None:
    options = ConsumeOptions(
        [produced.name],
        broker=client_url(broker, client),
        offset=StartAt("beginning"),
        key_format="raw",
        value_format="raw",
    )
    session = TailSession.from_options(options, buffer_size=COUNT + 100)
    ends = await log_ends(broker, produced.name)

    def caught_up() -> bool:
        snapshot = session.snapshot()
        return (
            snapshot is not None
            and len(snapshot.partitions) == PARTITIONS
            and all(p.delivered_end == ends[p.tp.partition] for p in snapshot.partitions)
        )

    async with session:
        await wait_for(caught_up, 60, "every partition delivered to its end")
        await wait_for(lambda: session.buffer.received == len(produced), 10, "the tail buffer")
        snapshot = session.snapshot()
        assert snapshot is not None
        assert all(set(ribbon_cells(p, 10)) == {Cell.CAUGHT_UP} for p in snapshot.partitions)
        got = [
            rec_from_parts(e.partition, e.offset, e.message.key, e.message.value, e.headers)
            for e in session.buffer.view
        ]
    assert_exactly(got, produced)


# -- peek ------------------------------------------------------------------------------


async def test_peek_shows_the_records_around_the_committed_offset(
    broker: Broker, produced: ProducedTopic
) -> None:
    group = f"peek-{produced.name}"
    partition = 1
    records = produced.records[partition]
    # Commit at the marker that ends the first aborted transaction, where there is one:
    # the window then spans the aborted records and markers on both sides.
    aborted = [r.offset for r in produced.aborted if r.partition == partition]
    run_end = next((a for a, b in itertools.pairwise(aborted) if b != a + 1), None)
    committed = run_end + 1 if run_end is not None else records[len(records) // 2].offset
    client = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
    )
    await client.start()
    try:
        tp = TopicPartition(produced.name, partition)
        client.assign([tp])
        await client.commit({tp: committed})
    finally:
        await client.stop()
    result = kconsume(
        broker, "peek", group, f"{produced.name}:{partition}", "-B", "5", "-A", "5", *RAW
    )
    assert result.returncode == 0, result.stderr.decode()
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    earlier = [r for r in records if r.offset < committed][-5:]
    later = [r for r in records if r.offset >= committed][:6]
    assert [d["peek"] for d in docs] == ["before"] * len(earlier) + ["next"] + ["after"] * 5
    assert_exactly([rec_from_jsonl(d) for d in docs], earlier + later)


# -- kconsume run ----------------------------------------------------------------------

APP = """
import asyncio, base64, os
import orjson
from kconsume import App

app = App({url!r}, group_id={group!r}, commit_interval=0.2,
          session_timeout_ms=2000, heartbeat_interval_ms=300)
ENDS = {ends!r}
EXPECTED = {expected}
out = open({out!r}, "wb")

def b64(data):
    return None if data is None else base64.b64encode(data).decode()

async def stop_at_the_end():
    # Stop once every partition is delivered to its end, markers included.
    while True:
        snapshot = app.snapshot()
        ends = {{p.tp.partition: p.delivered_end for p in snapshot.partitions}}
        if all(ends.get(p) == end for p, end in ENDS.items()):
            break
        await asyncio.sleep(0.02)
    app.request_stop()

@app.agent({topic!r})
async def record(stream):
    seen = 0
    async for event in stream:
        m = event.message
        out.write(orjson.dumps([m.partition, m.offset, b64(m.key), b64(m.value),
                                [[k, b64(v)] for k, v in m.headers]]) + b"\\n")
        seen += 1
        if seen == EXPECTED:
            out.flush()
            asyncio.get_running_loop().create_task(stop_at_the_end())
"""


def _unb64(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data)


async def test_run_headless_agent_sees_exactly_the_topic(
    client: str, broker: Broker, produced: ProducedTopic, tmp_path: Path
) -> None:
    group = f"run-{client}-{produced.name}"
    ends = await log_ends(broker, produced.name)
    out = tmp_path / "seen.jsonl"
    app_file = tmp_path / "record.py"
    app_file.write_text(
        APP.format(
            url=client_url(broker, client),
            group=group,
            topic=produced.name,
            ends=ends,
            expected=len(produced),
            out=str(out),
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "kconsume", "run", str(app_file), "--headless", "--every", "60"],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    got = [
        rec_from_parts(p, o, _unb64(k), _unb64(v), [(n, _unb64(h)) for n, h in headers])
        for p, o, k, v, headers in map(orjson.loads, out.read_bytes().splitlines())
    ]
    assert_exactly(got, produced)
    assert await group_committed(broker, group, produced.name) == ends


# -- a codec this installation cannot read ---------------------------------------------


async def test_unreadable_codec_is_one_line_and_commits_nothing_past_the_output(
    broker: Broker, tmp_path: Path
) -> None:
    """A live group consumer meets records it cannot decompress: what it wrote stays
    written and flushed, nothing past it is committed, and it says where in one line."""
    name = f"codec-{os.getpid()}"
    first = produce_librdkafka(
        broker.bootstrap, name, 300, partitions=1, used_partitions=1,
        config={"compression.type": "gzip"},
    )  # fmt: skip
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / "cramjam.py").write_text("raise ImportError('hidden by the test')\n")
    group = f"codec-{name}"
    process = subprocess.Popen(
        [sys.executable, "-m", "kconsume", "consume", name, "-b", broker.bootstrap,
         "-g", group, "-o", "beginning", *RAW, *FAST_GROUP],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": f"{hidden}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(len(first))]
        assert all(lines), "the gzip records, written before any lz4 one exists"
        producer = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "lz4"})
        for i in range(100):
            producer.produce(name, value=b"lz4 %d" % i, partition=0)
        assert producer.flush(30) == 0
        rest, stderr_bytes = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    stderr = stderr_bytes.decode()
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and "Unclosed" not in stderr, stderr
    said = [line for line in stderr.splitlines() if line.strip()]
    assert len(said) == 1, stderr
    assert f"{name}[0] at offset 300" in said[0] and "lz4" in said[0], said[0]
    got = [rec_from_jsonl(orjson.loads(line)) for line in [*lines, *rest.splitlines()]]
    assert_exactly(got, first)
    committed = (await group_committed(broker, group, name))[0]
    assert committed is None or committed <= len(got)
