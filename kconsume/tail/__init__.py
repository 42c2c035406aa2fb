"""The tail: what ``kconsume tail`` and ``kconsume demo`` show, without any UI.

A :class:`TailSession` runs an engine App with one extra stream read into a bounded
:class:`TailBuffer`; the dashboard (``kconsume.tui``) reads it through the
:class:`DashboardSource` protocol.  The deterministic source of the dashboard's tests
and screenshots, ``ScriptedSource``, lives with the tests (tests/tui/scripted_source.py).
Nothing here imports Textual.
"""

from .buffer import DEFAULT_BUFFER_SIZE, TailBuffer
from .logs import capture_logs
from .rates import RateMeter
from .ribbon import Cell, ribbon_cells, ribbon_runs
from .session import TailSession
from .source import BlockingRecord, DashboardSource, Notice, SourceState, SourceStatus, holders

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "BlockingRecord",
    "Cell",
    "DashboardSource",
    "Notice",
    "RateMeter",
    "SourceState",
    "SourceStatus",
    "TailBuffer",
    "TailSession",
    "capture_logs",
    "holders",
    "ribbon_cells",
    "ribbon_runs",
]
