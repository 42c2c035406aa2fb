"""``kconsume tail`` and ``kconsume demo`` (the dashboard) from the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kconsume.cli import app

runner = CliRunner()


def test_tail_is_listed_and_has_the_consume_options() -> None:
    assert "tail" in runner.invoke(app, ["--help"]).output
    result = runner.invoke(app, ["tail", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--broker", "--group", "--offset", "--partition", "--key-format",
                   "--value-format", "--where", "--header", "--grep", "--script", "--theme",
                   "--buffer", "--sasl-mechanism", "--ssl-cafile", "-X"):  # fmt: skip
        assert option in result.output, option


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "value["], "never closed"),
        (["--grep", "("], "bad --grep regex"),
        (["--header", "nope"], "NAME=VALUE"),
        (["--theme", "neon"], "unknown theme 'neon' (known: dark, light)"),
        (["--theme", "/nowhere/x.tcss"], "no theme file"),
        (["-o", "stored"], "needs a group"),
        (["-X", "no.such.setting=1"], "use NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2_before_connecting(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["tail", "orders", "-b", "127.0.0.1:1", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_demo_opens_the_dashboard_and_quits_cleanly() -> None:
    """The real thing, in a process with its own broker, on Textual's headless driver."""
    env = {**os.environ, "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver"}
    proc = subprocess.run(
        [sys.executable, "-m", "kconsume", "demo", "--duration", "3", "--slow-every", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def _run_in_a_terminal(
    args: list[str], until: bytes, keys: bytes, timeout: float = 30
) -> tuple[int, str]:
    """Run ``kconsume ARGS`` on a pseudo-terminal (the real Textual driver), wait until the
    screen shows ``until``, type ``keys``, and return the exit code and all output."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kconsume", *args],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    out = bytearray()
    typed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if not typed and until in out:
                os.write(master, keys)
                typed = True
            if proc.poll() is not None and not ready:
                break
        else:
            raise AssertionError(f"timed out; typed={typed}; output: {bytes(out[-2000:])!r}")
        return proc.wait(timeout=10), out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_quitting_tail_while_the_broker_is_unreachable_says_so_and_exits_1() -> None:
    from kconsume.broker import free_port

    dead = f"127.0.0.1:{free_port()}"
    code, output = _run_in_a_terminal(
        ["tail", "nowhere", "-b", dead, "-X", "request.timeout.ms=1000"],
        until=b"UNREACHABLE",
        keys=b"q",
    )
    assert code == 1, output[-2000:]
    assert f"kconsume: cannot reach a Kafka broker at {dead}" in output
