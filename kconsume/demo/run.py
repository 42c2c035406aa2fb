"""Running the demo: broker, topic, producer, engine with two streams, progress output."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from ..admin import create_topics, producer
from ..broker import EmbeddedBroker
from ..engine import App, Stream
from ..engine.events import EngineEvent
from ..run.progress import format_event, format_progress, shown_as_line
from .orders import produce_orders

__all__ = ["DemoRun", "DemoSettings", "demo_app", "run_demo"]


@dataclass(slots=True)
class DemoSettings:
    topic: str = "orders"
    partitions: int = 4
    rate: float = 40.0
    """Orders produced per second."""
    group: str = "kconsume-demo"
    progress_every: float = 3.0
    duration: float | None = None
    """Stop after this many seconds (None: until Ctrl-C)."""
    slow_every: int = 1500
    """Billing stalls on every this-many-th order it takes (0: never): at 40 orders a
    second, about every 40 s (12 s stalled, then 25 s flowing).  Deterministic, so a
    stall always ends before the next."""
    slow_seconds: float = 12.0
    billing_buffer: int = 256
    """Billing's buffer: a stall fills it in about 6 s, so its back-pressure (every
    partition paused) shows, then the stuck commit (``livelock_timeout``), then both
    clear when the stall ends and billing catches up within a second."""
    commit_interval: float = 1.0
    livelock_timeout: float = 8.0
    port: int | None = None


@dataclass(frozen=True, slots=True)
class DemoRun:
    broker_url: str
    app: App


async def audit(stream: Stream) -> None:
    """Fast stream: looks at every order."""
    async for event in stream:
        _ = event.value["total"]


def billing(settings: DemoSettings) -> Callable[[Stream], Awaitable[None]]:
    async def bill(stream: Stream) -> None:
        """Slow stream: a little work per order, and every ``slow_every`` orders far too
        long on one."""
        taken = 0
        async for event in stream:
            taken += 1
            if settings.slow_every and taken % settings.slow_every == 0:
                await asyncio.sleep(settings.slow_seconds)
            else:
                await asyncio.sleep(0.002)
            _ = event.value["customer"]

    return bill


@contextlib.asynccontextmanager
async def demo_app(settings: DemoSettings, out: TextIO | None = None) -> AsyncIterator[DemoRun]:
    """The demo's world: a broker, the orders topic, a producer sending orders, and an
    App (not started) with the ``audit`` and ``billing`` agents on the topic."""
    with EmbeddedBroker(port=settings.port) as broker:
        if out is not None:
            print(f"embedded broker on {broker.url}", file=out, flush=True)
        await create_topics(broker.url, {settings.topic: settings.partitions})
        orders_producer = producer(broker.url, linger_ms=5)
        await orders_producer.start()
        produce_task = asyncio.create_task(
            produce_orders(orders_producer, settings.topic, settings.rate), name="demo-producer"
        )
        app = App(
            broker.url,
            group_id=settings.group,
            commit_interval=settings.commit_interval,
            commit_livelock_soft_timeout=settings.livelock_timeout,
            revoke_drain_timeout=2.0,
            stop_drain_timeout=1.0,
            session_timeout_ms=3000,  # Tansu holds a join for about half of it
            heartbeat_interval_ms=500,
        )
        app.agent(settings.topic, value="json", name="audit")(audit)
        app.agent(settings.topic, value="json", name="billing", maxsize=settings.billing_buffer)(
            billing(settings)
        )
        try:
            yield DemoRun(broker.url, app)
        finally:
            produce_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await produce_task
            await app.stop()
            await orders_producer.stop()


async def run_demo(settings: DemoSettings, out: TextIO = sys.stdout) -> None:
    """Run the headless demo until cancelled (Ctrl-C) or ``settings.duration`` passes."""
    async with demo_app(settings, out) as run:
        app = run.app

        def show(event: EngineEvent) -> None:
            if shown_as_line(event):
                print(format_event(event), file=out, flush=True)

        app.events.subscribe(show)
        try:
            await app.start()
            await _report(app, settings, out)
        finally:
            await app.stop()
            print("demo stopped", file=out, flush=True)


async def _report(app: App, settings: DemoSettings, out: TextIO) -> None:
    started = time.monotonic()
    last_total, last_at = 0, started
    while settings.duration is None or time.monotonic() - started < settings.duration:
        await asyncio.sleep(settings.progress_every)
        snapshot = app.snapshot()
        rate = (snapshot.delivered_total - last_total) / max(snapshot.at - last_at, 1e-6)
        last_total, last_at = snapshot.delivered_total, snapshot.at
        print(format_progress(snapshot, rate), file=out, flush=True)
