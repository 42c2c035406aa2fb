"""Process-wide settings the commands make for themselves (never the engine: an App is a
library, and the garbage collector's settings belong to whoever owns the process)."""

from __future__ import annotations

import gc

__all__ = ["GEN0_THRESHOLD", "tune_gc"]

#: Allocations (net of frees) between two young-generation collections; Python's is 700.
#: A consumer keeps thousands of young objects alive in its buffers (a message, its event
#: and its decoded value each), so at 700 every collection walks them again for nothing.
#: Measured (docs/benchmarks.md): ``consume -f jsonl`` 148k -> 198k msg/s on one machine.
GEN0_THRESHOLD = 10_000


def tune_gc() -> None:
    """Freeze what start-up created (imports, settings) out of the collector's reach, and
    collect the young generation less often.  Caller: ``kconsume.cli.main``, before a
    command runs.  Cyclic garbage is still collected, just in larger steps."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
