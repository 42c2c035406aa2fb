"""``kconsume run APP.py`` against the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.brokers import Broker
from tests.integration.conftest import Produce

pytestmark = pytest.mark.broker

APP = """
import asyncio
from kconsume import App

app = App("{url}", group_id="run-{topic}", commit_interval=0.2, watchdog_interval=0.1,
          stop_drain_timeout=0.5,
          commit_livelock_soft_timeout=0.8, stream_processing_timeout=0.8,
          session_timeout_ms=2000, heartbeat_interval_ms=300)

@app.agent("{topic}", value="json")
async def enrich(stream):
    async for event in stream:
        if event.partition == 1 and event.offset == 3:
            await asyncio.sleep(3600)
"""


async def test_headless_run_names_the_handler_and_offset(
    broker: Broker, topic: str, produce: Produce, tmp_path: Path
) -> None:
    app_file = tmp_path / "enrich.py"
    app_file.write_text(APP.format(url=broker.url, topic=topic))
    await produce(topic, 30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kconsume", "run", str(app_file), "--headless", "--every", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        wanted = f"offset 3 blocks the commit of {topic}[1]"
        line = ""
        while wanted not in line:
            assert time.monotonic() < deadline, f"no {wanted!r} warning in 30 s"
            line = proc.stderr.readline()
        assert "head-of-line" in line and "held by enrich" in line
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"{topic}[1]" in out and "stream enrich" in out  # the progress table


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n", "declares no kconsume App"),
        ("def broken(:\n", "bad Python"),
        ("raise RuntimeError('boom')\n", "boom"),
        (
            "from kconsume import App\na = App('localhost:1')\nb = App('localhost:1')\n",
            "declares 2 Apps",
        ),
        ("from kconsume import App\napp = App('localhost:1')\n", "no streams or agents"),
    ],
)
def test_files_that_give_no_app_are_usage_errors(tmp_path: Path, source: str, message: str) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "kconsume", "run", str(app_file), "--headless"],
        capture_output=True, text=True, timeout=60, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


async def test_an_agent_that_raises_stops_the_run_with_exit_1(
    broker: Broker, topic: str, produce: Produce, tmp_path: Path
) -> None:
    await produce(topic, 3)
    app_file = tmp_path / "broken.py"
    app_file.write_text(
        "from kconsume import App\n"
        f"app = App('{broker.url}', start_at='beginning')\n"
        f"@app.agent('{topic}', value='json')\n"
        "async def handler(stream):\n"
        "    async for event in stream:\n"
        "        raise KeyError('customer')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "kconsume", "run", str(app_file), "--headless"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "kconsume: stopped: KeyError: 'customer'" in result.stderr
    assert "agent handler failed" in result.stderr  # the traceback, logged


FROZEN_APP = """
from kconsume import App

app = App("{url}", group_id="frozen-{topic}", commit_interval=0.2, watchdog_interval=0.1,
          loop_block_threshold=0.3, session_timeout_ms=2000, heartbeat_interval_ms=300)

@app.agent("{topic}")
async def idle(stream):
    async for event in stream:
        pass
"""


async def test_frozen_member_is_reported_as_suspended_not_as_a_blocked_loop(
    broker: Broker, topic: str, produce: Produce, tmp_path: Path
) -> None:
    """Chaos fault 'freeze' (SIGSTOP past the session timeout): the watchdog used to tell
    the user to look for time.sleep in their code."""
    app_file = tmp_path / "frozen.py"
    app_file.write_text(FROZEN_APP.format(url=broker.url, topic=topic))
    await produce(topic, 3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kconsume", "run", str(app_file), "--headless", "--every", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None and proc.stdout is not None
        deadline = time.monotonic() + 30
        event = ""
        while "assigned" not in event:  # its group has given it the partitions
            assert time.monotonic() < deadline, "never assigned"
            event = proc.stdout.readline()
        proc.send_signal(signal.SIGSTOP)
        os.waitid(os.P_PID, proc.pid, os.WSTOPPED | os.WNOWAIT)  # noqa: ASYNC222 - until stopped
        time.sleep(0.6)  # the fault itself: twice the app's 0.3 s loop-block threshold
        proc.send_signal(signal.SIGCONT)
        line = ""
        while "suspended" not in line and "blocked" not in line:
            assert time.monotonic() < deadline, "no warning about the freeze"
            line = proc.stderr.readline()
        assert "process suspended for" in line, line
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
