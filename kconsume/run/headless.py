"""Running a loaded App without a screen: progress on stdout, warnings on stderr."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ..engine.app import App
from ..engine.events import EngineEvent, StopStarted
from ..errors import KConsumeError
from .progress import format_event, format_progress, shown_as_line

__all__ = ["run_headless"]


async def run_headless(app: App, *, every: float = 3.0, out: TextIO = sys.stdout) -> None:
    """Run ``app`` until cancelled or an agent fails (its exception is raised).

    Every ``every`` seconds a progress table goes to ``out``; engine events as they
    happen; the watchdog's warnings and clearances are log lines on stderr.  Once the
    stop starts (Ctrl-C) the tables end and the stop says what it waits for; a second
    Ctrl-C stops at once, cleanly (the group is left, the clients closed), and the
    records still being processed are logged as uncommitted.
    """

    reporter: asyncio.Task[None] | None = None

    def show(event: EngineEvent) -> None:
        if isinstance(event, StopStarted) and reporter is not None:
            reporter.cancel()  # no more progress tables: the stop says what it waits for
        if shown_as_line(event):
            print(format_event(event), file=out, flush=True)

    unsubscribe = app.events.subscribe(show)
    reporter = asyncio.create_task(_report(app, every, out), name="kconsume-run-progress")
    try:
        await app.run()
    except KConsumeError:
        raise
    except Exception as exc:  # an agent failed; its traceback is already logged
        raise KConsumeError(f"stopped: {type(exc).__name__}: {exc}") from exc
    finally:
        reporter.cancel()
        unsubscribe()


async def _report(app: App, every: float, out: TextIO) -> None:
    last_total, last_at = 0, asyncio.get_running_loop().time()
    while True:
        await asyncio.sleep(every)
        snapshot = app.snapshot()
        rate = (snapshot.delivered_total - last_total) / max(snapshot.at - last_at, 1e-6)
        last_total, last_at = snapshot.delivered_total, snapshot.at
        print(format_progress(snapshot, rate), file=out, flush=True)
