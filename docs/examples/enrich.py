"""An app for `kconsume run`: enrich orders, and now and then wait far too long.

    kconsume broker &                          # or any Kafka
    kconsume run docs/examples/enrich.py       # the dashboard
    kconsume run docs/examples/enrich.py --headless

Set KCONSUME_BROKER to point it elsewhere.
"""

import asyncio
import os

from kconsume import App

app = App(
    os.environ.get("KCONSUME_BROKER", "localhost:9092"),
    group_id="enrich",
    commit_interval=1.0,
    commit_livelock_soft_timeout=float(os.environ.get("ENRICH_LIVELOCK", "20")),
)


@app.agent("orders", value="json")
async def enrich(stream):
    async for event in stream:
        if event.value.get("order", 0) % 97 == 42:  # the slow customer lookup
            await asyncio.sleep(float(os.environ.get("ENRICH_STALL", "60")))
