"""Log records into the dashboard's Events panel while it owns the terminal.

A full-screen dashboard cannot let log lines land on stderr (they would tear through
the screen), so while it runs the root logger's handlers are swapped for one that
turns records into :class:`~kconsume.tail.source.Notice` events.  The engine's own
warnings about commits and livelocks are left out, and so is every record logged with
``extra={"kconsume_event": True}`` (a skip, a handler time limit): the engine publishes
those as events already, and Events would list them twice.  Repeats of one message
within ``quiet_for`` seconds are dropped (a client retrying a dead broker logs the same
line many times a second).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .source import Level

__all__ = ["NoticeHandler", "capture_logs"]

Notify = Callable[[str, Level], None]

#: Loggers whose warnings duplicate engine events (the consumer's commit and livelock
#: warnings, and the watchdog's, whichever module it lives in).
_EVENT_LOGGERS = ("kconsume.engine.consumer", "kconsume.engine.watchdog", "kconsume.watchdog")


class NoticeHandler(logging.Handler):
    def __init__(self, notify: Notify, quiet_for: float = 10.0) -> None:
        super().__init__(logging.WARNING)
        self.notify = notify
        self.quiet_for = quiet_for
        self._recent: dict[tuple[str, object], float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "kconsume_event", False):
            return  # published as an engine event too
        if record.levelno < logging.ERROR and record.name.startswith(_EVENT_LOGGERS):
            return
        key = (record.name, record.msg)
        last = self._recent.get(key)
        if last is not None and record.created - last < self.quiet_for:
            return
        if len(self._recent) > 256:
            self._recent.clear()
        self._recent[key] = record.created
        try:
            text = record.getMessage().splitlines()[0] if record.getMessage() else ""
        except Exception:
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        level: Level = "error" if record.levelno >= logging.ERROR else "warning"
        self.notify(f"{record.name}: {text}", level)


@contextmanager
def capture_logs(notify: Notify) -> Iterator[NoticeHandler]:
    """Send WARNING and above to ``notify`` instead of the root logger's handlers."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = NoticeHandler(notify)
    root.handlers = [handler]
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
