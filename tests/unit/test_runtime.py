"""What the commands set for their own process (kconsume/cli/runtime.py)."""

from __future__ import annotations

import gc

from kconsume.cli.runtime import GEN0_THRESHOLD, tune_gc


def test_commands_tune_the_garbage_collector_for_their_own_process() -> None:
    """``kconsume.cli.main`` freezes start-up objects and collects the young generation
    less often (docs/benchmarks.md has the measurement); the engine itself never does."""
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD > before[0]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
