"""``kconsume topics``: kcat -L, with log bounds and record counts (real broker)."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from tests.brokers import Broker
from tests.integration.conftest import Produce

pytestmark = pytest.mark.broker


def topics(broker: Broker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kconsume", "topics", "-b", broker.bootstrap, *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_topics_lists_partitions_leaders_highwater_and_records(
    broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 10)  # 4, 3, 3 over the three partitions
    result = topics(broker, topic, "--json")
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert [b["port"] for b in doc["brokers"]] == [int(broker.bootstrap.rsplit(":", 1)[1])]
    (listed,) = doc["topics"]
    assert listed["topic"] == topic and listed["records"] == 10
    leaders = {b["id"] for b in doc["brokers"]}
    assert [
        (p["partition"], p["start"], p["highwater"], p["records"]) for p in listed["partitions"]
    ] == [
        (0, 0, 4, 4),
        (1, 0, 3, 3),
        (2, 0, 3, 3),
    ]
    assert all(
        p["leader"] in leaders and p["leader"] in p["replicas"] for p in listed["partitions"]
    )

    text = topics(broker, topic)
    assert text.returncode == 0, text.stderr
    rows = [line.split() for line in text.stdout.splitlines()]
    assert rows[0][0] == "brokers:"
    assert rows[1] == [
        "topic",
        "partition",
        "leader",
        "replicas",
        "isr",
        "start",
        "highwater",
        "records",
    ]
    assert [r[1] for r in rows[2:5]] == ["0", "1", "2"] and [r[-1] for r in rows[2:5]] == [
        "4",
        "3",
        "3",
    ]
    assert rows[5][:4] == [topic, "3", "partitions,", "in"] and rows[5][-1] == "10"


async def test_every_topic_by_default_and_an_unknown_one_is_exit_1(
    broker: Broker, topic: str
) -> None:
    every = topics(broker, "--json")
    assert every.returncode == 0, every.stderr
    assert topic in {t["topic"] for t in orjson.loads(every.stdout)["topics"]}
    unknown = topics(broker, "no-such-topic")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "kconsume: unknown topic: no-such-topic"
