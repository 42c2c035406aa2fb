"""``kconsume attach`` to a headless ``kconsume run --observe`` on the real broker."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kconsume.broker import free_port
from kconsume.engine import TP
from kconsume.observe.remote import RemoteSource
from kconsume.tail import SourceState
from kconsume.tui import DashboardApp
from kconsume.tui.run import run_remote
from tests.brokers import Broker
from tests.helpers import wait_for
from tests.integration.conftest import Produce
from tests.integration.test_run_cli import APP
from tests.integration.test_tail import screen_text

pytestmark = pytest.mark.broker


async def test_attach_shows_the_blocked_offset_stream_and_age_and_says_when_the_process_dies(
    broker: Broker, topic: str, produce: Produce, tmp_path: Path
) -> None:
    app_file = tmp_path / "enrich.py"
    app_file.write_text(APP.format(url=broker.url, topic=topic))
    await produce(topic, 30)
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kconsume", "run", str(app_file), "--headless", "--every", "60",
         "--observe", address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    blocked = TP(topic, 1)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        wanted = f"offset 3 blocks the commit of {blocked}"
        line = ""
        while wanted not in line:  # what the local run says (its dashboard shows the same)
            assert time.monotonic() < deadline, f"no {wanted!r} warning in 30 s"
            line = proc.stderr.readline()
        found = re.search(r"held by enrich for ([\d.]+)s", line)
        assert found, line
        warned_age = float(found.group(1))

        source = RemoteSource(address, poll_interval=0.1)
        dashboard = DashboardApp(source, tz=UTC)
        async with source, dashboard.run_test(size=(160, 50)) as pilot:
            await wait_for(lambda: source.snapshot() is not None, what="a remote snapshot")
            snapshot = source.snapshot()
            assert snapshot is not None
            partition = snapshot.partition(blocked)
            stream = snapshot.stream("enrich")
            assert partition is not None and stream is not None
            assert partition.oldest_inflight == 3 and partition.committed == 3
            assert partition.livelock_warned
            assert partition.oldest_inflight_age is not None
            # the warning shows the age rounded to a tenth: it may read up to 0.05 s high
            assert warned_age - 0.05 <= partition.oldest_inflight_age < warned_age + 30
            assert (stream.current, stream.current_offset) == (blocked, 3)
            assert stream.current_for is not None and stream.current_for >= warned_age - 0.05
            record = source.blocking_record()
            assert record is not None
            assert (record.tp, record.offset, record.holders) == (blocked, 3, ("enrich",))
            dashboard.poll()
            await pilot.pause()
            text = screen_text(pilot)
            assert "head-of-line" in text and "enrich" in text  # the replayed warning
            assert f"attached to {address}, read-only" in text
            assert source.status.state is SourceState.CONSUMING

            # Read-only: p asks nothing of the engine.
            await pilot.press("p")
            await pilot.pause()
            assert not source.paused

            second = RemoteSource(address, poll_interval=0.1)
            attached = asyncio.create_task(run_remote(second, headless=True))
            await wait_for(lambda: second.snapshot() is not None, what="the second attach")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            await wait_for(source.gone.is_set, what="the first attach noticing")
            reason, stopped = await asyncio.wait_for(attached, 15)
        assert source.status.state is SourceState.FAILED
        assert "gone" in (source.reason or "")
        assert not stopped and reason is not None and "the observed process is gone" in reason
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


async def test_consume_observed_with_a_token_counts_its_filter_errors(
    broker: Broker, topic: str, produce: Produce
) -> None:
    """``consume --observe --observe-token``: the --where errors and the commits in /metrics,
    a bare 401 without the token."""
    await produce(topic, 30)
    address = f"127.0.0.1:{free_port()}"
    token = "consume-observe-token"
    group = f"observed-{topic}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kconsume", "consume", topic, "-b", broker.url, "-g", group,
         "-o", "beginning", "--where", "value['missing'] > 1", "-X", "session.timeout.ms=2000",
         "--observe", address, "--observe-token", token],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://{address}/metrics"
    try:
        async with aiohttp.ClientSession() as http:
            text = ""

            async def scrape() -> bool:
                """True once every message failed the filter and the group committed them."""
                nonlocal text
                try:
                    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
                        text = await r.text()
                except aiohttp.ClientConnectorError:
                    return False
                got = {
                    (s.name, s.labels.get("stream", s.labels.get("partition"))): s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                }
                committed = sum(got.get(("kconsume_committed_offset", str(p)), 0) for p in range(3))
                return (
                    got.get(("kconsume_filter_errors_total", "consume")) == 30 and committed == 30
                )

            deadline = time.monotonic() + 30
            while not await scrape():
                assert time.monotonic() < deadline, f"no 30 filter errors and commits:\n{text}"
                await asyncio.sleep(0.1)
            async with http.get(url) as response:
                assert response.status == 401 and await response.read() == b""
        assert token not in text
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert token not in err
