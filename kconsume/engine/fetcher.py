"""Fetcher: the service that drives fetching, owned by the App."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import KConsumeError

if TYPE_CHECKING:
    from .consumer import Consumer

__all__ = ["Fetcher"]

log = logging.getLogger(__name__)


class Fetcher:
    """Runs ``consumer.drain_messages()`` in one background task.

    Started by ``App.start``; ``on_stop`` cancels it.  A failure of the fetch loop
    is handed to ``Consumer.on_task_error`` and then crashes the app.
    """

    def __init__(self, consumer: Consumer, crash: Callable[[BaseException], None]) -> None:
        self.consumer = consumer
        #: Stops the app with the error (``App.crash``).
        self.crash = crash
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._fetch_routine(), name="kconsume-fetch")

    async def _fetch_routine(self) -> None:
        consumer = self.consumer
        try:
            await consumer.drain_messages()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, KConsumeError):  # those carry their own message
                log.exception("fetch loop failed")
            await consumer.on_task_error(exc)
            self.crash(exc)

    async def on_stop(self) -> None:
        """Called every time before the service is stopped: cancel the fetch loop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
