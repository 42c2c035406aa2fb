"""Whether the Kafka client is connected, said in one line instead of its log flood.

A Kafka client that loses its broker logs an error for every retry (aiokafka: several
lines a second).  A headless run says it once, in its own words, and once more when the
broker is back; the client's log records stay off stderr while the run is under way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..engine import App

__all__ = ["broker_connected", "quiet_client_logs", "watch_connection"]

#: Seconds between two looks at the client's connections.
CHECK_EVERY = 0.25


def broker_connected(app: App) -> bool | None:
    """Whether the app's Kafka client has a live connection to any broker (None: unknown).

    Reads aiokafka's connection table, which the engine does not expose: a best
    effort for saying "broker unreachable", never used for decisions.
    """
    client = getattr(getattr(app.consumer.driver, "client", None), "_client", None)
    conns = getattr(client, "_conns", None)
    if not isinstance(conns, dict):
        return None
    try:
        return any(conn.connected() for conn in conns.values())
    except Exception:
        return None


class _NotTheClient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("aiokafka")


@contextmanager
def quiet_client_logs() -> Iterator[None]:
    """Keep aiokafka's log records off the root logger's handlers meanwhile."""
    quiet = _NotTheClient()
    handlers = logging.getLogger().handlers[:]
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


async def watch_connection(app: App, broker: str, say: Callable[[str], None]) -> None:
    """Say once when the client loses every connection, and once when it has one again."""
    lost = False
    while True:
        connected = broker_connected(app)
        if connected is False and not lost:
            lost = True
            say(f"lost the connection to the Kafka broker at {broker}; retrying until it is back")
        elif connected and lost:
            lost = False
            say(f"connected to the Kafka broker at {broker} again")
        await asyncio.sleep(CHECK_EVERY)
