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
