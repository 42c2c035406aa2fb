"""``kconsume peek`` and ``kconsume commit`` as real processes against the real broker.

Committed offsets are set and read back by independent aiokafka clients, never by
the code under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kconsume.broker import free_port
from kconsume.engine.types import TP
from kconsume.groups import GroupActiveError, Selection, open_session
from tests.brokers import Broker
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed

pytestmark = pytest.mark.broker

FAST_GROUP = ("-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300")


def kconsume(
    broker: Broker | str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    address = broker if isinstance(broker, str) else broker.bootstrap
    return subprocess.run(
        [sys.executable, "-m", "kconsume", *args, "-b", address],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},  # usage errors in one line, not wrapped in a box
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def docs(result: subprocess.CompletedProcess[str]) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(line) for line in ok(result).stdout.splitlines()]


def marks(result: subprocess.CompletedProcess[str]) -> dict[int, list[tuple[int, str]]]:
    """partition -> [(offset, peek mark)] from jsonl output."""
    out: dict[int, list[tuple[int, str]]] = {}
    for doc in docs(result):
        out.setdefault(doc["partition"], []).append((doc["offset"], doc["peek"]))
    return out


def table(result: subprocess.CompletedProcess[str]) -> dict[int, tuple[str, ...]]:
    """The commit table: partition -> (log start, log end, committed, new, delta, note)."""
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("PARTITION"))
    rows: dict[int, tuple[str, ...]] = {}
    for line in lines[start + 1 :]:
        cells = line.split(maxsplit=6)
        if not cells or not cells[0].isdigit():
            break
        rows[int(cells[0])] = (*cells[1:6], cells[6] if len(cells) > 6 else "")
    return rows


async def set_committed(broker: Broker, group: str, topic: str, offsets: dict) -> None:  # type: ignore[type-arg]
    """Commit ``{partition: offset}`` for ``group`` from outside it (plain aiokafka)."""
    client = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
    )
    await client.start()
    try:
        tps = {TopicPartition(topic, p): o for p, o in offsets.items()}
        client.assign(list(tps))
        await client.commit(tps)
    finally:
        await client.stop()


async def group_state(broker: Broker, group: str) -> tuple[str, int]:
    """(state, number of members) by DescribeGroups, independent of kconsume."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = (await admin.describe_consumer_groups([group]))[0].groups[0]
        return described[2], len(described[5])
    finally:
        await admin.close()


@pytest.fixture
async def orders(topic: str, produce: Produce) -> str:
    """30 JSON orders over 3 partitions: offsets 0..9 in each, order = 3 * offset + partition."""
    await produce(topic, 30)
    return topic


# -- peek -----------------------------------------------------------------------------


async def test_peek_marks_the_records_around_the_committed_offset(
    broker: Broker, orders: str
) -> None:
    group = f"peek-{orders}"
    await set_committed(broker, group, orders, {0: 4, 2: 1})  # partition 1: none
    result = kconsume(broker, "peek", group, orders)
    by_partition = marks(result)
    assert by_partition[0] == [
        (2, "before"), (3, "before"), (4, "next"), (5, "after"), (6, "after"), (7, "after"),
    ]  # fmt: skip
    # near the log start: only one record before
    assert by_partition[2] == [(0, "before"), (1, "next"), (2, "after"), (3, "after"), (4, "after")]
    assert 1 not in by_partition
    assert f"{orders}[1]: group {group} has no committed offset: skipped" in result.stderr
    first = docs(result)[0]
    assert first["value"] == {"order": 6} and first["key"] == 6  # consume's jsonl, plus "peek"
    # peeking neither joined the group nor moved it
    assert await group_state(broker, group) == ("Empty", 0)
    assert await group_committed(broker, group, orders) == {0: 4, 1: None, 2: 1}


async def test_peek_before_and_after_counts(broker: Broker, orders: str) -> None:
    group = f"peek-n-{orders}"
    await set_committed(broker, group, orders, {0: 5, 1: 5})
    assert marks(kconsume(broker, "peek", group, f"{orders}:0", "-B", "0", "-A", "0")) == {
        0: [(5, "next")]
    }
    assert marks(kconsume(broker, "peek", group, f"{orders}:1", "-B", "4", "-A", "1")) == {
        1: [(1, "before"), (2, "before"), (3, "before"), (4, "before"), (5, "next"), (6, "after")]
    }
    # a window wider than the log is cut at its start and end
    assert marks(kconsume(broker, "peek", group, f"{orders}:0,1", "-B", "50", "-A", "50")) == {
        p: [(o, "before" if o < 5 else "next" if o == 5 else "after") for o in range(10)]
        for p in (0, 1)
    }


async def test_peek_near_the_log_end(broker: Broker, orders: str) -> None:
    group = f"peek-end-{orders}"
    await set_committed(broker, group, orders, {0: 9, 1: 10, 2: 10})
    result = kconsume(broker, "peek", group, f"{orders}:0,1")
    assert marks(result) == {
        0: [(7, "before"), (8, "before"), (9, "next")],  # the last record is next
        1: [(8, "before"), (9, "before")],  # caught up: nothing is next yet
    }
    assert f"{orders}[1]: committed offset 10 is the log end" in result.stderr
    pretty = ok(kconsume(broker, "peek", group, f"{orders}:2", "-f", "pretty", "--no-color"))
    out = pretty.stdout
    assert f"── {orders}[2]  group {group}  committed 10  log 0..10 ──" in out
    assert "▶ committed offset 10: nothing to read yet (log end 10)" in out
    assert out.index(f"{orders}[2] @9") < out.index("▶ committed offset 10")
    assert "\x1b[" not in out


async def test_peek_pretty_marks_next_and_templates_know_peek(broker: Broker, orders: str) -> None:
    group = f"peek-fmt-{orders}"
    await set_committed(broker, group, orders, {0: 3})
    pretty = ok(kconsume(broker, "peek", group, orders, "-f", "pretty", "--no-color")).stdout
    marker = f"▶ next for {group} (committed offset 3)"
    assert marker in pretty
    assert pretty.index(f"{orders}[0] @2") < pretty.index(marker) < pretty.index(f"{orders}[0] @3")
    assert '"order": 9' in pretty  # the record at offset 3 of partition 0
    template = ok(
        kconsume(broker, "peek", group, orders, "-A", "1", "-f", "{peek}\\t{offset}:{value}")
    )
    assert template.stdout.splitlines() == [
        'before\t1:{"order":3}', 'before\t2:{"order":6}', 'next\t3:{"order":9}',
        'after\t4:{"order":12}',
    ]  # fmt: skip
    raw = ok(kconsume(broker, "peek", group, orders, "-B", "0", "-A", "0", "-f", "raw"))
    assert raw.stdout == '{"order":9}\n'
    as_text = docs(
        kconsume(broker, "peek", group, orders, "-B", "0", "-A", "0", "--value-format", "str")
    )
    assert as_text[0]["value"] == '{"order":9}' and as_text[0]["peek"] == "next"


async def test_peek_without_any_committed_offset_fails(broker: Broker, orders: str) -> None:
    result = kconsume(broker, "peek", f"nobody-{orders}", orders)
    assert result.returncode == 1
    assert f"has no committed offset on {orders} (partitions 0, 1, 2)" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


# -- commit ---------------------------------------------------------------------------


async def test_commit_absolute_offsets_dry_run_then_execute(broker: Broker, orders: str) -> None:
    group = f"abs-{orders}"
    await set_committed(broker, group, orders, {0: 2, 1: 9})
    dry = ok(kconsume(broker, "commit", group, orders, "--to", "7"))
    assert f"Dry run: commit --to 7 for group {group} on {orders}" in dry.stdout
    assert table(dry) == {
        0: ("0", "10", "2", "7", "+5", ""),
        1: ("0", "10", "9", "7", "-2", ""),
        2: ("0", "10", "-", "7", "-", ""),  # no committed offset: set, no delta
    }
    assert "Nothing committed: add --execute" in dry.stdout
    assert await group_committed(broker, group, orders) == {0: 2, 1: 9, 2: None}
    done = ok(kconsume(broker, "commit", group, orders, "--to", "7", "--execute"))
    assert f"Committed 3 offsets for group {group}" in done.stdout
    assert await group_committed(broker, group, orders) == {0: 7, 1: 7, 2: 7}
    # past the log end: clamped, and said so
    clamped = ok(kconsume(broker, "commit", group, f"{orders}:1", "--to", "25", "--execute"))
    assert table(clamped) == {1: ("0", "10", "7", "10", "+3", "clamped to the log end (wanted 25)")}
    assert await group_committed(broker, group, orders) == {0: 7, 1: 10, 2: 7}


async def test_commit_shift_forward_and_back(broker: Broker, orders: str) -> None:
    group = f"shift-{orders}"
    await set_committed(broker, group, orders, {0: 5, 1: 1})
    dry = ok(kconsume(broker, "commit", group, orders, "--to", "-3"))
    assert table(dry) == {
        0: ("0", "10", "5", "2", "-3", ""),
        1: ("0", "10", "1", "0", "-1", "clamped to the log start (wanted -2)"),
        2: ("0", "10", "-", "-", "-", "no committed offset to shift from"),
    }
    ok(kconsume(broker, "commit", group, orders, "--to", "-3", "--execute"))
    assert await group_committed(broker, group, orders) == {0: 2, 1: 0, 2: None}
    ahead = ok(kconsume(broker, "commit", group, orders, "--to", "+6", "--execute"))
    assert table(ahead)[0] == ("0", "10", "2", "8", "+6", "")
    assert table(ahead)[1] == ("0", "10", "0", "6", "+6", "")
    assert "Committed 2 offsets" in ahead.stdout
    assert await group_committed(broker, group, orders) == {0: 8, 1: 6, 2: None}
    beyond = ok(kconsume(broker, "commit", group, f"{orders}:0", "--to", "+6", "--execute"))
    assert table(beyond) == {0: ("0", "10", "8", "10", "+2", "clamped to the log end (wanted 14)")}
    assert (await group_committed(broker, group, orders))[0] == 10


async def test_commit_shift_without_any_committed_offset_fails(broker: Broker, orders: str) -> None:
    result = kconsume(broker, "commit", f"none-{orders}", orders, "--to", "+1", "--execute")
    assert result.returncode == 1
    assert "has no committed offset on" in result.stderr and "to shift" in result.stderr


async def test_commit_to_beginning_and_end(broker: Broker, orders: str) -> None:
    group = f"ends-{orders}"
    await set_committed(broker, group, orders, {0: 4, 1: 4, 2: 4})
    dry = ok(kconsume(broker, "commit", group, orders, "--to", "end"))
    assert {p: row[3:5] for p, row in table(dry).items()} == {p: ("10", "+6") for p in range(3)}
    ok(kconsume(broker, "commit", group, orders, "--to", "end", "--execute"))
    assert await group_committed(broker, group, orders) == {0: 10, 1: 10, 2: 10}
    ok(kconsume(broker, "commit", group, f"{orders}:0,2", "--to", "beginning", "--execute"))
    assert await group_committed(broker, group, orders) == {0: 0, 1: 10, 2: 0}
    ok(kconsume(broker, "commit", group, f"{orders}:1", "--to", "earliest", "--execute"))
    assert (await group_committed(broker, group, orders))[1] == 0


async def test_commit_to_a_time(broker: Broker, topic: str, produce: Produce) -> None:
    await produce(topic, 12)  # offsets 0..3 in each partition
    time.sleep(0.05)  # timestamps on either side of the cut differ by more than a clock tick
    cut = int(time.time() * 1000)
    time.sleep(0.05)
    await produce(topic, 6, start=12)  # offsets 4, 5 in each partition
    group = f"time-{topic}"
    await set_committed(broker, group, topic, {0: 0, 1: 6})
    dry = ok(kconsume(broker, "commit", group, topic, "--to", f"@{cut}"))
    assert {p: row[2:5] for p, row in table(dry).items()} == {
        0: ("0", "4", "+4"),
        1: ("6", "4", "-2"),
        2: ("-", "4", "-"),
    }
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut / 1000)) + f".{cut % 1000:03d}Z"
    ok(kconsume(broker, "commit", group, topic, "--to", f"@{iso}", "--execute"))
    assert await group_committed(broker, group, topic) == {0: 4, 1: 4, 2: 4}
    # after every record: the log end, and said so
    later = ok(kconsume(broker, "commit", group, f"{topic}:2", "--to", f"@{cut + 3_600_000}"))
    assert table(later) == {
        2: ("0", "6", "4", "6", "+2", "no record at or after the time: the log end")
    }
    # before every record: the log start
    ok(kconsume(broker, "commit", group, topic, "--to", "@2020-01-01T00:00:00Z", "--execute"))
    assert await group_committed(broker, group, topic) == {0: 0, 1: 0, 2: 0}


async def test_commit_refused_while_the_group_has_members(
    broker: Broker, orders: str, tmp_path: Path
) -> None:
    group = f"busy-{orders}"
    out_path = tmp_path / "consumed.jsonl"
    with open(out_path, "wb") as out:
        member = subprocess.Popen(
            [
                sys.executable, "-m", "kconsume", "consume", "-b", broker.bootstrap, orders,
                "-g", group, "-o", "beginning", *FAST_GROUP,
            ],
            stdout=out,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            # it has an assignment once it wrote something, and a commit soon after
            await wait_for(lambda: out_path.stat().st_size > 0, timeout=30, what="consume output")
            committed: dict[int, int | None] = {}

            async def all_committed() -> bool:
                committed.update(await group_committed(broker, group, orders))
                return committed == {0: 10, 1: 10, 2: 10}

            deadline = time.monotonic() + 30
            while not await all_committed():
                assert time.monotonic() < deadline, f"no commit within 30 s: {committed}"

            for args in ((), ("--execute",)):
                result = kconsume(broker, "commit", group, orders, "--to", "beginning", *args)
                assert result.returncode == 1, result.stdout
                assert f"group {group} has 1 active member" in result.stderr
                assert "stop its consumers first" in result.stderr
                assert "Traceback" not in result.stderr
                assert table(result)[0][2:4] == ("10", "0")  # the table is still shown
            assert await group_committed(broker, group, orders) == {0: 10, 1: 10, 2: 10}

            # and if a member shows up between the check and the commit, the broker refuses
            async with open_session(broker.url, group, Selection(orders, (0,)), {}) as session:
                assert (await session.describe()).active
                with pytest.raises(GroupActiveError, match="refused the commit"):
                    await session.commit({TP(orders, 0): 0})
            assert await group_committed(broker, group, orders) == {0: 10, 1: 10, 2: 10}
            assert member.poll() is None  # the member was never disturbed
            assert await group_state(broker, group) == ("Stable", 1)
        finally:
            member.send_signal(signal.SIGTERM)
            member.wait(20)
            assert member.stderr is not None
            member.stderr.close()


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["commit", "g", "{topic}", "--to", "yesterday"], "bad --to 'yesterday'"),
        (["commit", "g", "{topic}", "--to", "stored"], "bad --to 'stored'"),
        (["commit", "g", "{topic}", "--to", "@noon"], "not a time"),
        (["commit", "g", "{topic}", "--to", "+"], "bad --to"),
        (["commit", "g", "{topic}"], "--to"),
        (["commit", "g", "{topic}:x", "--to", "1"], "partitions are numbers"),
        (["commit", "g", ":1", "--to", "1"], "the topic is missing"),
        (["peek", "g", "{topic}:1,"], "partitions are numbers"),
        (["peek", "g", "{topic}", "-B", "-1"], "-B"),
        (["peek", "g", "{topic}", "-f", "{nope}"], "unknown field nope"),
        (["peek", "g", "{topic}", "--value-format", "yaml"], "yaml"),
        (["peek", "g", "{topic}", "-X", "no.such=1"], "NAME=VALUE"),
    ],
)
def test_bad_usage_exits_2(broker: Broker, topic: str, args: list[str], message: str) -> None:
    result = kconsume(broker, *(a.replace("{topic}", topic) for a in args))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["peek", "g"], ["commit", "g", "--to", "end"]])
def test_unknown_topic_or_partition_fails(broker: Broker, topic: str, command: list[str]) -> None:
    result = kconsume(broker, *command, "no-such-topic")
    assert result.returncode == 1
    assert "unknown topic: no-such-topic" in result.stderr and "Traceback" not in result.stderr
    result = kconsume(broker, *command, f"{topic}:7")
    assert result.returncode == 1
    assert f"topic {topic} has partitions [0, 1, 2], not [7]" in result.stderr


@pytest.mark.parametrize("command", [["peek", "g", "t"], ["commit", "g", "t", "--to", "end"]])
def test_unreachable_broker_fails_within_seconds(command: list[str]) -> None:
    started = time.monotonic()
    result = kconsume(f"127.0.0.1:{free_port()}", *command)
    assert result.returncode == 1
    assert "cannot reach a Kafka broker" in result.stderr
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr
    assert time.monotonic() - started < 15
