"""Faults the chaos run (``make chaos``) injects, each pinned down as a test."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.brokers import Broker
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed

pytestmark = pytest.mark.broker

SESSION = ("-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300")


def member(broker: Broker, topic: str, group: str, out: Path) -> subprocess.Popen[bytes]:
    with open(out, "ab") as stdout:
        return subprocess.Popen(
            [sys.executable, "-m", "kconsume", "consume", topic, "-b", broker.bootstrap,
             "-g", group, "-o", "beginning", "-f", "jsonl", *SESSION],
            stdout=stdout, stderr=subprocess.PIPE,
        )  # fmt: skip


def written(*paths: Path) -> list[tuple[int, int]]:
    return [
        (doc["partition"], doc["offset"])
        for path in paths
        for doc in map(orjson.loads, path.read_bytes().splitlines())
    ]


async def test_zombie_member_after_a_freeze_loses_nothing_and_commits_to_the_end(
    client: str, broker: Broker, topic: str, produce: Produce, tmp_path: Path
) -> None:
    """Chaos fault 'freeze': a member SIGSTOPped past its session timeout comes back
    after its partitions went to another member.  Its commits for them fail and it
    rejoins; every record is written at least once, and the group ends at the log end."""
    group = f"zombie-{topic}"
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    await produce(topic, 90)
    a = member(broker, topic, group, out_a)
    b: subprocess.Popen[bytes] | None = None
    try:
        await wait_for(lambda: len(written(out_a)) == 90, 30, "member a reading everything")
        a.send_signal(signal.SIGSTOP)  # the zombie-to-be: frozen with its partitions
        b = member(broker, topic, group, out_b)
        await produce(topic, 90, start=90)
        await wait_for(lambda: len(written(out_b)) >= 90, 60, "member b taking over")
        a.send_signal(signal.SIGCONT)  # back, after the group gave its partitions away
        await produce(topic, 90, start=180)
        want = {(p, o) for p in range(3) for o in range(90)}
        await wait_for(lambda: set(written(out_a, out_b)) >= want, 60, "every record written")
        ends = dict.fromkeys(range(3), 90)

        async def at_end() -> bool:
            return await group_committed(broker, group, topic) == ends

        deadline = time.monotonic() + 30
        while not await at_end():
            assert time.monotonic() < deadline, "the group's commits never reached the end"
    finally:
        for process in (a, b):
            if process is not None:
                process.send_signal(signal.SIGCONT)
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    assert a.stderr is not None and b is not None and b.stderr is not None
    said = a.stderr.read().decode()
    a.stderr.close()
    b.stderr.close()
    assert a.returncode == 0 and b.returncode == 0
    assert "process suspended for" in said  # it knows it was away, and says so
    assert "Traceback" not in said
