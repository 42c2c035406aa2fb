"""The kconsume command line (CliRunner, and a real process for the demo)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kconsume import __version__
from kconsume.cli import app
from kconsume.demo.orders import order_payload

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"kconsume {__version__}"


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "broker" in result.output and "demo" in result.output


def test_bad_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["broker", "--port", "0"])
    assert result.exit_code == 2


def test_demo_headless_shows_commits_and_lag() -> None:
    """The real thing: a process with its own embedded broker, for a few seconds."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kconsume",
            "demo",
            "--headless",
            "--duration",
            "6",
            "--every",
            "1",
            "--slow-every",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "embedded broker on kafka://127.0.0.1:" in out
    assert "event: assigned orders[0], orders[1], orders[2], orders[3]" in out
    table = [line for line in out.splitlines() if line.strip().startswith("orders[")]
    assert table, out
    committed = [int(line.split()[1]) for line in table if line.split()[1] != "-"]
    assert any(c > 0 for c in committed), out  # commits happen
    assert "demo stopped" in out


def test_sample_orders_are_json_with_a_total() -> None:
    import random

    import orjson

    key, value = order_payload(3, random.Random(1))
    order = orjson.loads(value)
    assert key.startswith(b"c") and order["order"] == 3
    assert order["total"] == sum(i["qty"] * i["price"] for i in order["items"])


def test_broker_command_serves_kafka_until_interrupted() -> None:
    import asyncio
    import signal

    from kconsume.admin import create_topics
    from kconsume.broker import free_port

    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "kconsume", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # printed once the port accepts connections
            assert f"kafka://127.0.0.1:{port}" in first
            asyncio.run(create_topics(f"kafka://127.0.0.1:{port}", {"hello": 2}))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
    assert proc.returncode == 0


def test_attach_to_nothing_says_so_and_exits_1() -> None:
    from kconsume.broker import free_port

    result = runner.invoke(app, ["attach", f"127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    assert "cannot attach to 127.0.0.1:" in result.output and "Traceback" not in result.output


def test_observe_on_a_public_interface_without_a_token_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KCONSUME_OBSERVE_TOKEN", raising=False)
    for command in (["consume", "t"], ["tail", "t"]):
        result = runner.invoke(app, [*command, "--observe", "0.0.0.0:9464"])
        assert result.exit_code == 2, result.output
        assert "needs a token" in result.output


def test_broker_command_stops_on_ctrl_c_even_when_started_with_it_ignored() -> None:
    """A background job of a non-interactive shell starts with SIGINT ignored; Python then
    leaves Ctrl-C ignored and `kconsume broker` never stopped."""
    import signal

    from kconsume.broker import free_port

    proc = subprocess.Popen(
        [sys.executable, "-m", "kconsume", "broker", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.stdout is not None
    assert "listening" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
