"""The public API: what kconsume exports, and the engine's independence from any UI."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import pytest

import kconsume
import kconsume.engine

ENGINE = Path(kconsume.engine.__file__).parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(kconsume).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)  # subpackages
    }
    assert set(kconsume.__all__) == public | {"__version__"}


def test_upstream_names_are_exported() -> None:
    for name in ("Fetcher", "Consumer", "Conductor", "Stream", "Message", "TP", "App"):
        assert name in kconsume.__all__


def test_consumer_has_the_upstream_api() -> None:
    for name in (
        "track_message",
        "ack",
        "commit",
        "force_commit",
        "maybe_wait_for_commit_to_finish",
        "on_partitions_assigned",
        "on_partitions_revoked",
        "on_stop",
        "on_task_error",
        "wait_empty",
        "close",
        "unacked",
    ):
        assert hasattr(kconsume.Consumer, name), name
    assert hasattr(kconsume.Fetcher, "on_stop")


UI_FREE = (ENGINE, ENGINE.parent / "records")


@pytest.mark.parametrize("package", UI_FREE, ids=lambda p: p.name)
def test_engine_and_records_never_import_textual_or_typer(package: Path) -> None:
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"textual", "typer", "rich"}, f"{path}: {name}"


def test_engine_and_records_load_without_textual_or_typer() -> None:
    """Not even through another kconsume module: a fresh interpreter imports both."""
    probe = (
        "import sys, kconsume.engine, kconsume.records.filters, kconsume.records.output;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'typer', 'rich'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_app_can_be_declared_at_module_level() -> None:
    """No event loop yet (as in a user's app file): the Kafka client is made at start."""
    app = kconsume.App("kafka://localhost:1", group_id="g")

    @app.agent("orders", value="json")
    async def handler(stream: kconsume.Stream) -> None:
        async for _ in stream:
            pass

    assert [s.name for s in app.conductor.streams] == ["handler"]
    assert app.snapshot().partitions == ()


def test_errors_live_in_one_module_with_their_exit_codes() -> None:
    from kconsume import errors
    from kconsume.engine.transport import aiokafka, base
    from kconsume.records.filters import FilterSyntaxError

    assert kconsume.KConsumeError is errors.KConsumeError is base.KConsumeError
    assert kconsume.BrokerUnreachableError is errors.BrokerUnreachableError
    assert aiokafka.UnreadableRecordsError is errors.UnreadableRecordsError
    assert errors.KConsumeError.exit_code == errors.EXIT_FAILURE == 1
    assert FilterSyntaxError.exit_code == errors.UsageError.exit_code == errors.EXIT_USAGE == 2
