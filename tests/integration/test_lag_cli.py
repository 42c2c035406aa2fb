"""``kconsume lag`` and ``kconsume groups`` against the real broker, each verdict caused
by consumers that are not kconsume: confluent-kafka and plain aiokafka, written here.

Windows are short (0.2 s samples, 10 of them); every wait is on a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import confluent_kafka as ck
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kconsume.admin import create_topics, producer
from kconsume.broker import EmbeddedBroker, free_port
from tests.brokers import BROKER_KIND
from tests.helpers import wait_for
from tests.integration.test_groups_cli import group_state, kconsume, set_committed

pytestmark = pytest.mark.broker

WINDOW = ("--interval", "0.2", "--window", "10")
SESSION = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}


def lag_doc(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    doc: dict[str, Any] = orjson.loads(lines[0])
    return doc


def partition(doc: dict[str, Any], p: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in doc["partitions"] if x["partition"] == p)
    return found


async def run_lag(broker: EmbeddedBroker, *args: str) -> subprocess.CompletedProcess[str]:
    """``kconsume lag ... --json`` in a thread, so the test's consumers keep running."""
    return await asyncio.to_thread(kconsume, broker, "lag", *args, *WINDOW, "--json")


@pytest.fixture
async def one(broker: EmbeddedBroker, topic_name: str) -> str:
    await create_topics(broker.url, {topic_name: 1})
    return topic_name


@contextlib.asynccontextmanager
async def producing(
    broker: EmbeddedBroker, topic: str, per_second: float, first: int = 0
) -> AsyncIterator[list[int]]:
    """Produce to partition 0 at a steady rate until the block ends; yields [count]."""
    client = producer(broker.url)
    await client.start()
    sent = [0]
    for _ in range(first):
        await client.send(topic, b"x", partition=0)
    await client.flush()
    sent[0] = first

    async def loop() -> None:
        start = time.monotonic()
        while True:
            due = int((time.monotonic() - start) * per_second) - (sent[0] - first)
            for _ in range(due):
                await client.send(topic, b"x", partition=0)
                sent[0] += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    try:
        yield sent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.stop()


@contextlib.asynccontextmanager
async def aiokafka_member(
    broker: EmbeddedBroker,
    topic: str,
    group: str,
    per_second: float | None,
    committed: list[int],
) -> AsyncIterator[None]:
    """A plain aiokafka consumer that reads ``per_second`` records (None: as fast as
    it can) and commits after each one; ``committed[0]`` is its last commit."""
    client = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1 if per_second else 500,
        **SESSION,
    )
    await client.start()

    async def loop() -> None:
        tp = TopicPartition(topic, 0)
        start: float | None = None
        done = 0
        while True:
            batch = await client.getmany(timeout_ms=50)
            for record in batch.get(tp, []):
                if per_second:
                    start = start or time.monotonic()
                    await asyncio.sleep(max(0.0, start + done / per_second - time.monotonic()))
                done += 1
                await client.commit({tp: record.offset + 1})
                committed[0] = record.offset + 1

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await client.stop()


class ConfluentStaller(threading.Thread):
    """A confluent-kafka member that reads ``upto`` records, then keeps committing the
    same offset every 100 ms without reading further."""

    def __init__(self, broker: EmbeddedBroker, topic: str, group: str, upto: int) -> None:
        super().__init__(daemon=True)
        self.topic, self.upto = topic, upto
        self.consumer = ck.Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": group,
                "session.timeout.ms": 2000,
                "heartbeat.interval.ms": 300,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.stopping = threading.Event()
        self.commits = 0

    def run(self) -> None:
        c = self.consumer
        c.subscribe([self.topic])
        read = 0
        while read < self.upto and not self.stopping.is_set():
            m = c.poll(0.1)
            if m is not None and not m.error():
                read += 1
        tp = ck.TopicPartition(self.topic, 0, self.upto)
        c.pause([ck.TopicPartition(self.topic, 0)])
        while not self.stopping.is_set():
            c.commit(offsets=[tp], asynchronous=False)
            self.commits += 1
            c.poll(0.1)
        c.close()


# -- the verdicts -------------------------------------------------------------------------


async def test_ok_a_consumer_that_keeps_up(broker: EmbeddedBroker, one: str) -> None:
    group = f"ok-{one}"
    committed = [0]
    async with (
        producing(broker, one, 25, first=20) as sent,
        aiokafka_member(broker, one, group, None, committed),
    ):
        await wait_for(lambda: committed[0] >= 20, timeout=30, what="first commits")
        result = await run_lag(broker, group)
    assert sent[0] > 40  # the log kept growing while it was judged
    assert result.returncode == 0, result.stdout
    doc = lag_doc(result)
    assert doc["verdict"] == "OK" and doc["complete"] is True
    assert doc["state"] == "Stable" and doc["members"] == 1
    p = partition(doc)
    assert p["verdict"] == "OK" and p["committed"] <= p["log_end"]
    assert p["lag"] < 25 and p["consume_rate"] > 10
    assert doc["reason"] in (
        "every partition caught up (lag 0)",
        f"lag {doc['total_lag']:,} in total, every partition keeps up",
    )


async def test_warn_a_consumer_that_commits_but_falls_behind(
    broker: EmbeddedBroker, one: str
) -> None:
    group = f"warn-{one}"
    committed = [0]
    async with (
        producing(broker, one, 150, first=20) as sent,
        aiokafka_member(broker, one, group, 10, committed),
    ):
        await wait_for(lambda: committed[0] >= 2, timeout=30, what="first commits")
        result = await run_lag(broker, group)
    assert result.returncode == 1, result.stdout
    doc = lag_doc(result)
    p = partition(doc)
    assert doc["verdict"] == "WARN" and p["verdict"] == "WARN", doc["reason"]
    assert p["reason"].startswith("committed offset moved ")
    assert "but the lag never decreased over 10 samples" in p["reason"]
    assert doc["reason"] == f"{one}[0] WARN: {p['reason']}"
    assert p["lags"] == sorted(p["lags"]) and p["lags"][-1] > p["lags"][0]
    assert p["eta"] == "never" and p["eta_s"] is None  # the lag grows
    assert p["produce_rate"] > p["consume_rate"] > 0
    assert sent[0] > committed[0]


async def test_stall_a_consumer_that_commits_the_same_offset(
    broker: EmbeddedBroker, one: str
) -> None:
    group = f"stall-{one}"
    staller = ConfluentStaller(broker, one, group, upto=5)
    async with producing(broker, one, 50, first=10):
        staller.start()
        try:
            await wait_for(lambda: staller.commits >= 3, timeout=30, what="repeated commits")
            result = await run_lag(broker, group)
        finally:
            staller.stopping.set()
            await asyncio.to_thread(staller.join, 10)
    assert result.returncode == 1, result.stdout
    doc = lag_doc(result)
    p = partition(doc)
    assert doc["verdict"] == "ERR" and p["verdict"] == "STALL", doc["reason"]
    assert p["committed"] == 5
    assert p["reason"].startswith(
        "committed offset 5 unchanged over 10 samples while the log grew by"
    )
    assert doc["reason"] == f"{one}[0] STALL: {p['reason']}"
    assert p["commit_rate"] == 0 and p["consume_rate"] == 0


STOPPED_CHILD = r"""
import asyncio, sys
from aiokafka import AIOKafkaConsumer, TopicPartition
async def main():
    c = AIOKafkaConsumer(sys.argv[3], bootstrap_servers=sys.argv[1], group_id=sys.argv[2],
        session_timeout_ms=2000, heartbeat_interval_ms=300, auto_offset_reset="earliest",
        enable_auto_commit=False, max_poll_records=1)
    await c.start()
    tp = TopicPartition(sys.argv[3], 0)
    while True:
        for r in (await c.getmany(timeout_ms=100)).get(tp, []):
            await c.commit({tp: r.offset + 1})
            if r.offset + 1 == 7:
                print("committed 7", flush=True)
                await asyncio.sleep(3600)
asyncio.run(main())
"""


async def expel_dead_members(broker: EmbeddedBroker, topic: str, group: str) -> None:
    """Tansu never expires a group's last member by itself; a member that joins and
    leaves makes it rebalance, which drops the dead one (real Kafka drops it after
    its session timeout).  This member commits nothing."""

    def join_and_leave() -> None:
        c = ck.Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": group,
                "session.timeout.ms": 2000,
                "heartbeat.interval.ms": 300,
                "enable.auto.commit": False,
            }
        )
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while not c.assignment() and time.monotonic() < deadline:
            c.poll(0.1)
        c.close()

    await asyncio.to_thread(join_and_leave)
    state: list[tuple[str, int]] = []

    async def empty() -> bool:
        state[:] = [await group_state(broker, group)]
        return state[0][1] == 0

    deadline = time.monotonic() + 30
    while not await empty():
        assert time.monotonic() < deadline, f"the group kept its members: {state}"


async def test_stop_a_consumer_killed_while_lag_remained(
    broker: EmbeddedBroker, one: str, produce: Any
) -> None:
    group = f"stop-{one}"
    for _ in range(20):
        await produce(one, 1, partition=0)
    child = subprocess.Popen(
        [sys.executable, "-c", STOPPED_CHILD, broker.bootstrap, group, one],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30)
        assert line.strip() == "committed 7"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    await expel_dead_members(broker, one, group)
    result = await run_lag(broker, group)
    assert result.returncode == 1, result.stdout
    doc = lag_doc(result)
    p = partition(doc)
    assert doc["verdict"] == "ERR" and p["verdict"] == "STOP", doc["reason"]
    assert doc["state"] == "Empty" and doc["members"] == 0
    assert (p["committed"], p["log_end"], p["lag"]) == (7, 20, 13)
    assert p["reason"].startswith("no commit for ")
    assert "with lag 13: committed offset 7 and no live member owns the partition" in p["reason"]
    assert doc["reason"] == f"{one}[0] STOP: {p['reason']}"
    text = await asyncio.to_thread(kconsume, broker, "lag", group, *WINDOW)
    assert text.returncode == 1
    assert f"{one}[0] STOP: no commit for" in text.stdout


async def test_rewind_a_group_whose_offset_was_moved_back(
    broker: EmbeddedBroker, one: str, produce: Any
) -> None:
    group = f"rewind-{one}"
    await produce(one, 20, partition=0)
    await set_committed(broker, group, one, {0: 15})  # behind by 5: the lag is never 0
    watcher = subprocess.Popen(
        [
            sys.executable, "-m", "kconsume", "lag", group, "-b", broker.bootstrap,
            "--watch", "--interval", "0.2", "--window", "10", "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    docs: list[dict[str, Any]] = []
    try:
        assert watcher.stdout is not None
        stdout = watcher.stdout

        async def next_doc() -> None:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), 30)
            docs.append(orjson.loads(line))

        for _ in range(6):  # the first half of the window: behind, committing nothing new
            await next_doc()
        assert [d["samples"] for d in docs] == [1, 2, 3, 4, 5, 6]
        assert all(d["verdict"] == "OK" and d["total_lag"] == 5 for d in docs)
        assert docs[0]["complete"] is False
        await set_committed(broker, group, one, {0: 3})
        while docs[-1]["samples"] < 10:
            await next_doc()
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(20)
        for pipe in (watcher.stdout, watcher.stderr):
            if pipe is not None:
                pipe.close()
    assert watcher.returncode == 0  # interrupted --watch
    last = docs[-1]
    p = partition(last)
    assert last["complete"] is True
    assert last["verdict"] == "ERR" and p["verdict"] == "REWIND", last["reason"]
    assert p["reason"].startswith("committed offset moved back from 15 to 3 (sample ")
    assert p["reason"].endswith("; lag 17")
    assert (p["committed"], p["lag"]) == (3, 17)


# -- what the lag means ---------------------------------------------------------------------


async def test_time_lag_from_records_with_known_timestamps(
    broker: EmbeddedBroker, one: str
) -> None:
    group = f"timelag-{one}"
    now_ms = int(time.time() * 1000)
    client: AIOKafkaProducer = producer(broker.url)
    await client.start()
    try:
        for i in range(6):  # one record a minute, the last one 5 minutes ago
            await client.send(one, b"x", partition=0, timestamp_ms=now_ms - (10 - i) * 60_000)
        await client.flush()
    finally:
        await client.stop()
    await set_committed(broker, group, one, {0: 2})  # next: the record of 8 minutes ago
    started = time.time()
    result = await run_lag(broker, group)
    doc = lag_doc(result)
    p = partition(doc)
    assert p["lag"] == 4
    age_then = (started * 1000 - (now_ms - 8 * 60_000)) / 1000
    assert age_then <= p["time_lag_s"] <= age_then + 30, p
    text = await asyncio.to_thread(kconsume, broker, "lag", group, *WINDOW)
    assert "8m0" in text.stdout or "8m1" in text.stdout  # 8 minutes and a few seconds


async def test_eta_against_a_consumer_with_a_known_rate(broker: EmbeddedBroker, one: str) -> None:
    group = f"eta-{one}"
    committed = [0]
    async with (
        producing(broker, one, 0, first=400),
        aiokafka_member(broker, one, group, 40, committed),
    ):
        await wait_for(lambda: committed[0] >= 5, timeout=30, what="first commits")
        result = await run_lag(broker, group)
    doc = lag_doc(result)
    p = partition(doc)
    assert 25 <= p["consume_rate"] <= 50, p  # it reads 40 a second
    assert p["produce_rate"] == 0
    assert p["lag"] > 200
    assert p["eta_s"] == pytest.approx(p["lag"] / p["consume_rate"], rel=0.01)
    assert p["lag"] / 50 <= p["eta_s"] <= p["lag"] / 25


async def test_three_members_over_twelve_partitions(
    broker: EmbeddedBroker, topic_name: str, produce: Any
) -> None:
    await create_topics(broker.url, {topic_name: 12})
    group = f"three-{topic_name}"
    for p in range(12):
        await produce(topic_name, 2, partition=p)
    members = [
        AIOKafkaConsumer(
            topic_name,
            bootstrap_servers=broker.bootstrap,
            group_id=group,
            client_id=f"member-{i}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **SESSION,
        )
        for i in range(3)
    ]
    for m in members:
        await m.start()

    async def poll_all() -> None:
        while True:
            for m in members:
                await m.getmany(timeout_ms=10)
            await asyncio.sleep(0.01)

    polling = asyncio.create_task(poll_all())
    try:
        await wait_for(
            lambda: (
                sum(len(m.assignment()) for m in members) == 12
                and all(m.assignment() for m in members)
            ),
            timeout=40,
            what="12 partitions over 3 members",
        )
        for m in members:
            await m.commit({tp: 1 for tp in m.assignment()})
        result = await run_lag(broker, group)
        text = await asyncio.to_thread(kconsume, broker, "lag", group, *WINDOW)
        owners = {
            tp.partition: f"member-{i}" for i, m in enumerate(members) for tp in m.assignment()
        }
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        for m in members:
            await m.stop()
    doc = lag_doc(result)
    assert doc["members"] == 3 and doc["state"] == "Stable"
    assert [p["partition"] for p in doc["partitions"]] == list(range(12))
    assert all(p["committed"] == 1 and p["lag"] == 1 for p in doc["partitions"])
    if BROKER_KIND == "kafka":  # the reference broker carries assignments: they must decode
        assert doc["assignments_known"]
    if doc["assignments_known"]:  # real Kafka: each partition's owner
        assert {p["partition"]: p["owner"].split("@")[0] for p in doc["partitions"]} == owners
    else:  # Tansu's DescribeGroups carries no member assignments
        assert all(p["owner"] is None for p in doc["partitions"])
        assert "OWNER ?: the broker's DescribeGroups gave no member assignments" in text.stdout


async def test_no_committed_offset_and_unknown_group(broker: EmbeddedBroker, topic: str) -> None:
    group = f"partial-{topic}"
    await set_committed(broker, group, topic, {0: 0, 1: 0})
    doc = lag_doc(await run_lag(broker, group))
    p2 = partition(doc, 2)
    assert p2["committed"] is None and p2["lag"] is None and p2["verdict"] is None
    assert p2["reason"] == "no committed offset: the group has not read it"
    assert p2["note"] == "no committed offset"
    result = await run_lag(broker, f"nobody-{topic}")
    assert result.returncode == 1
    missing = lag_doc(result)
    assert missing["verdict"] == "NOTFOUND" and missing["partitions"] == []


async def test_groups_lists_every_group_worst_first(broker: EmbeddedBroker, topic: str) -> None:
    await produce_n(broker, topic, 5)
    fine, behind = f"fine-{topic}", f"behind-{topic}"
    await set_committed(broker, fine, topic, {0: 5, 1: 5, 2: 5})
    await set_committed(broker, behind, topic, {0: 1, 1: 5})
    result = await asyncio.to_thread(kconsume, broker, "groups", *WINDOW, "--json")
    assert result.returncode == 1  # one group is not OK
    listed = orjson.loads(result.stdout)["groups"]
    names = [g["group"] for g in listed]
    assert names.index(behind) < names.index(fine)
    by_name = {g["group"]: g for g in listed}
    assert by_name[behind]["verdict"] == "ERR" and by_name[behind]["total_lag"] == 4
    assert by_name[behind]["worst_partition"] == {"topic": topic, "partition": 0, "lag": 4}
    assert by_name[fine]["verdict"] == "OK" and by_name[fine]["state"] == "Empty"
    assert by_name[fine]["topics"] == [topic]
    lagging = await asyncio.to_thread(kconsume, broker, "groups", *WINDOW, "--lagging")
    assert behind in lagging.stdout and fine not in lagging.stdout
    assert lagging.stdout.startswith("GROUP")


async def produce_n(broker: EmbeddedBroker, topic: str, n: int) -> None:
    client = producer(broker.url)
    await client.start()
    try:
        for p in range(3):
            for _ in range(n):
                await client.send(topic, b"x", partition=p)
        await client.flush()
    finally:
        await client.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lag", "g", "--window", "1"], "--window"),
        (["lag", "g", "--interval", "soon"], "Invalid value for '--interval'"),
        (["lag", "g", "--interval", "0"], "--interval"),
        (["groups", "--allowed-lag", "-1"], "--allowed-lag"),
    ],
)
def test_bad_usage_exits_2(broker: EmbeddedBroker, args: list[str], message: str) -> None:
    result = kconsume(broker, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["lag", "g"], ["groups"]])
def test_unreachable_broker_fails_at_once(command: list[str]) -> None:
    result = kconsume(f"127.0.0.1:{free_port()}", *command)
    assert result.returncode == 1
    assert "cannot reach a Kafka broker" in result.stderr
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr


@pytest.mark.kafka_only("Tansu keeps no segments: its log start never moves")
async def test_a_committed_offset_below_the_log_start_is_not_phantom_lag(
    broker: EmbeddedBroker, topic_name: str
) -> None:
    """Retention deletes records the group had not read: lag counts from the log start,
    and the partition says why."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        configs = {"retention.ms": "60000", "segment.ms": "100"}
        await admin.create_topics([NewTopic(topic_name, 1, 1, topic_configs=configs)])
    finally:
        await admin.close()
    tp = TopicPartition(topic_name, 0)
    client = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await client.start()
    try:
        old = int((time.time() - 600) * 1000)  # ten minutes old: past the 60 s retention
        for i in range(10):
            await client.send(topic_name, b"old %d" % i, partition=0, timestamp_ms=old)
        await client.flush()
        reader = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
        await reader.start()
        try:

            async def log_start() -> int:
                return int((await reader.beginning_offsets([tp]))[tp])

            deadline = time.monotonic() + 30
            while await log_start() < 10:
                assert time.monotonic() < deadline, "retention did not delete the old records"
        finally:
            await reader.stop()
        for i in range(5):  # offsets 10..14, new enough to stay
            await client.send(topic_name, b"new %d" % i, partition=0)
        await client.flush()
    finally:
        await client.stop()
    group = f"below-{topic_name}"
    await set_committed(broker, group, topic_name, {0: 3})  # it had read three records
    doc = lag_doc(await run_lag(broker, group, topic_name))
    p = partition(doc)
    assert p["committed"] == 3 and p["log_start"] == 10 and p["log_end"] == 15
    assert p["below_log_start"] is True and p["lag"] == 5  # not 12
    assert "below the log start 10" in p["note"]
