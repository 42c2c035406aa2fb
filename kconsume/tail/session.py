"""The tail session: an engine App with a tail stream read into a bounded buffer.

It is what ``kconsume tail`` and ``kconsume demo`` run under the dashboard.  The engine
does the consuming; the session adds one stream, named ``tail``, whose reader only
appends each event to the :class:`~kconsume.tail.buffer.TailBuffer` (so it is done
with a message at once and never holds a commit back), and it offers the dashboard's
controls: pause, commit now, filter.

``kconsume tail`` builds its own App from the ``consume`` options
(:meth:`TailSession.from_options`), and retries while the broker is unreachable;
``kconsume demo`` attaches the session to the demo's App (:meth:`TailSession.attach`).
Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..consume.connection import broker_connected
from ..consume.options import ConsumeOptions, engine_app
from ..engine import App, Event, Stream
from ..engine.events import CommitCompleted, CommitStarted, EngineEvent, PartitionsAssigned
from ..engine.positions import StartAt
from ..engine.snapshot import EngineSnapshot
from ..engine.types import TP
from ..errors import BrokerUnreachableError, KConsumeError
from ..records.decoding import output_codec
from ..records.filters import USER_CODE_ERRORS, Script, load_script, make_prefilter
from ..records.record import ConsumedRecord
from ..schemas import SchemaSettings
from .buffer import DEFAULT_BUFFER_SIZE, TailBuffer, decoder
from .source import (
    BlockingRecord,
    Level,
    Notice,
    SourceState,
    SourceStatus,
    backpressure,
    blocked_longest,
)

__all__ = ["TailSession", "broker_connected"]

log = logging.getLogger(__name__)

#: The pause reason the session uses (streams use their names).
USER = "user"
#: Past events a new subscriber receives first (commit progress excluded).
REPLAYED = 50
#: Filter errors reported one by one before they are only counted.
SHOWN_FILTER_ERRORS = 3
#: Most events the tail takes from its stream at once (whatever is buffered, up to this).
TAKE_MAX = 500
#: Seconds between two asks for the partitions' log ends (ListOffsets): the engine
#: learns the highwater from its fetches only, and a paused partition, or one with
#: nothing new, is not fetched.
ENDS_INTERVAL = 1.0

Subscriber = Callable[[EngineEvent], None]


def combine_where(expressions: Sequence[str]) -> str | None:
    """Several ``--where`` expressions (ANDed) as one, for the dashboard's filter."""
    parts = [e.strip() for e in expressions if e.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" for p in parts)


class TailSession:
    """An engine App plus the tail stream, observed and controlled by the dashboard.

    Use ``async with session:`` (or :meth:`start` and :meth:`stop`): the engine runs in
    a background task, so a dashboard can show "connecting" and "broker unreachable"
    while it starts.
    """

    def __init__(
        self,
        make_app: Callable[[], App],
        *,
        broker: str,
        topics: Sequence[str],
        group: str | None,
        key_format: str = "auto",
        value_format: str = "auto",
        where: str | None = None,
        headers: Sequence[str] = (),
        greps: Sequence[str] = (),
        script: Script | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        retry: bool = True,
        retry_interval: float = 2.0,
        stream_name: str = "tail",
        allow_skip: bool = False,
        schemas: SchemaSettings | None = None,
    ) -> None:
        """``allow_skip`` lets the dashboard skip a blocking message (``kconsume run``);
        ``schemas`` says where Avro, Protobuf and JSON Schema schemas come from."""
        self._make_app = make_app
        #: Builds the App anew from another start position (``o``); None: cannot jump.
        self.make_app_at: Callable[[StartAt], App] | None = None
        self._start: StartAt | None = None
        self._jumping = False
        self.can_skip = allow_skip
        self.broker = broker
        self.topics = tuple(topics)
        self.group = group
        self.key_codec = output_codec(key_format, schemas, key=True)
        self.value_codec = output_codec(value_format, schemas)
        self.prefilter = make_prefilter(list(headers), list(greps))
        self.script = script
        self.stream_name = stream_name
        self.retry = retry
        self.retry_interval = retry_interval
        self.buffer = TailBuffer(buffer_size, decoder(self.key_codec, self.value_codec))
        self.buffer.on_filter_error = self._on_filter_error
        if where:
            self.buffer.set_filter(where)
        #: The engine app of the current attempt (None before the first).
        self.app: App | None = None
        self._subscribers: tuple[Subscriber, ...] = ()
        self._paused = False
        self._running = False
        self._stopping = False
        self._stopped = False
        self._stop_requested = False
        self._failed: str | None = None
        self._unreachable: str | None = None
        self._last: EngineSnapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._filter_errors_shown = 0
        self._history: deque[EngineEvent] = deque(maxlen=REPLAYED)
        self._connected = False
        #: The log ends the broker listed last (see :data:`ENDS_INTERVAL`).
        self._listed_ends: dict[TP, int] = {}
        self.ends_interval = ENDS_INTERVAL

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_options(
        cls, options: ConsumeOptions, *, buffer_size: int = DEFAULT_BUFFER_SIZE, **kwargs: Any
    ) -> TailSession:
        """A session that builds its App from ``consume`` options (``kconsume tail``)."""

        session = cls(
            lambda: engine_app(options),
            broker=options.broker,
            topics=options.topics,
            group=options.group,
            key_format=options.key_format,
            value_format=options.value_format,
            where=combine_where(options.where),
            headers=options.headers,
            greps=options.greps,
            script=load_script(options.script) if options.script is not None else None,
            buffer_size=buffer_size,
            schemas=options.schemas,
            **kwargs,
        )
        session.make_app_at = lambda start: engine_app(dataclasses.replace(options, offset=start))
        return session

    @classmethod
    def attach(cls, app: App, *, broker: str, topics: Sequence[str], **kwargs: Any) -> TailSession:
        """A session over an App built elsewhere (``kconsume demo``); it adds the tail
        stream to it, starts and stops it, and does not retry."""
        kwargs.setdefault("group", app.consumer.group_id)
        return cls(lambda: app, broker=broker, topics=topics, retry=False, **kwargs)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Run the engine in a background task (returns at once)."""
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self.run(), name="kconsume-tail-session")

    async def stop(self) -> None:
        """Stop the engine: finish what streams are on, commit, leave the group."""
        self._stop_requested = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self.app is not None and self._running:
            self.app.request_stop()
        task = self._task
        if task is None:
            self._stopped = True
            return
        if not self._running and not task.done():
            task.cancel()  # still connecting: nothing to commit
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> TailSession:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def failure(self) -> str | None:
        """Why the session did not do its job, once it has stopped: the engine failed, or
        it never reached the broker (the user quit while it was unreachable or still
        connecting).  None when it ran and was stopped by request."""
        if self._failed is not None:
            return self._failed
        if self._connected:
            return None
        if self._unreachable is not None:
            return self._unreachable
        return f"gave up connecting to a Kafka broker at {self.broker}: no answer yet"

    @property
    def done(self) -> bool:
        """True once the engine has stopped (by request or because it failed)."""
        return self._stopped

    async def run(self) -> None:
        """Connect (retrying while the broker is unreachable), consume until stopped."""
        try:
            while not self._stop_requested:
                if await self._attempt():
                    break
        finally:
            self._running = False
            self._stopping = False
            self._stopped = True

    async def _attempt(self) -> bool:
        """One engine run; False if it should be tried again."""
        if self._start is not None and self.make_app_at is not None:
            app = self.make_app_at(self._start)
            self.buffer.clear()  # what the last run delivered while it stopped
        else:
            app = self._make_app()
        stream = app.stream(  # raw: the buffer decodes what is looked at
            *self.topics, prefilter=self.prefilter, name=self.stream_name
        )
        self.app = app
        unsubscribe = app.events.subscribe(self._on_engine_event)
        reader = asyncio.create_task(self._read(stream), name="kconsume-tail-reader")
        started = False
        try:
            try:
                await app.start()
            except BrokerUnreachableError as exc:
                if not self.retry:
                    self._fail(str(exc))
                    return True
                if self._unreachable != str(exc):
                    self.notify(f"{exc}; retrying every {self.retry_interval:g}s", "error")
                self._unreachable = str(exc)
                await self._sleep(self.retry_interval)
                return False
            except KConsumeError as exc:
                self._fail(str(exc))
                return True
            started = True
            self._connected = True
            ends = asyncio.create_task(self._list_ends(app), name="kconsume-tail-ends")
            if self._unreachable is not None:
                self.notify(f"connected to {self.broker}", "success")
            self._unreachable = None
            self._stopping = False  # a jump's new run: the last one has stopped
            self._running = True
            if self._paused:
                app.consumer.pause_partitions(app.consumer.assignment(), USER)
            if self._stop_requested:
                app.request_stop()
            await app.wait_stopping()
            if self._jumping and not self._stop_requested:
                self._jumping = False
                return False  # again, from the new start position
            if not self._stop_requested:
                reason = app.crash_reason
                self._fail(f"the engine stopped: {reason!r}" if reason else "the engine stopped")
            return True
        finally:
            if started:
                ends.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ends
                self._stopping = True
                self._last = app.snapshot()
                try:
                    await app.stop()
                finally:
                    self._last = app.snapshot()
                    self._running = False
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            unsubscribe()

    async def _list_ends(self, app: App) -> None:
        """Ask the broker for the assigned partitions' log ends every
        :attr:`ends_interval` seconds, so a paused partition, or one with nothing new,
        still shows its highwater and lag (the engine learns them from fetches only)."""
        driver = app.consumer.driver
        while True:
            tps = app.consumer.assignment()
            if tps:
                try:
                    listed = await driver.listed_end_offsets(tps)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the next round asks again
                    log.debug("listing the log ends failed: %r", exc)
                else:
                    self._listed_ends = {tp: listed[tp] for tp in tps if tp in listed}
            await asyncio.sleep(self.ends_interval)

    def _with_listed_ends(self, snapshot: EngineSnapshot) -> EngineSnapshot:
        """``snapshot`` with the highwater the broker listed where it is ahead of what the
        engine's fetches reported, and the lag recomputed from it."""
        listed = self._listed_ends
        if not listed:
            return snapshot
        partitions = []
        for p in snapshot.partitions:
            end = listed.get(p.tp)
            if end is not None and (p.highwater is None or end > p.highwater):
                base = p.committed if p.committed is not None else p.delivered_end
                lag = max(0, end - base) if base is not None else p.lag
                p = dataclasses.replace(p, highwater=end, lag=lag)
            partitions.append(p)
        return dataclasses.replace(snapshot, partitions=tuple(partitions))

    async def _sleep(self, seconds: float) -> None:
        wakeup = self._wakeup
        if wakeup is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), seconds)

    def _fail(self, reason: str) -> None:
        self._failed = reason
        self.notify(reason, "error")

    # -- the tail stream ------------------------------------------------------------------

    async def _read(self, stream: Stream) -> None:
        """Add the stream's events to the buffer, a batch (whatever is buffered) at a time."""
        add = self.buffer.add
        script = self.script
        async with contextlib.aclosing(stream.take(TAKE_MAX, within=0.0)) as batches:
            async for batch in batches:
                if script is None:
                    for event in batch:
                        add(event)
                    continue
                for event in batch:
                    kept = await self._scripted(script, event)
                    if kept is not None:
                        add(kept)

    async def _scripted(self, script: Script, event: Event) -> Event | None:
        decoded = self.buffer.decode(event)
        try:
            kept, value = await script.apply(ConsumedRecord.from_event(decoded))
        except USER_CODE_ERRORS as exc:
            self._report_filter_error(event, f"--script {script.path.name}", exc)
            return None
        if not kept:
            return None
        if script.transform is None:
            return event  # stays raw
        return Event(event.message, decoded.key, value)

    def _on_filter_error(self, event: Event, exc: BaseException) -> None:
        self._report_filter_error(event, "the filter", exc)

    def _report_filter_error(self, event: Event, what: str, exc: BaseException) -> None:
        self._filter_errors_shown += 1
        if self._filter_errors_shown > SHOWN_FILTER_ERRORS:
            return
        m = event.message
        text = f"{what} failed on {m.tp}@{m.offset}: {type(exc).__name__}: {exc}"
        if self._filter_errors_shown == SHOWN_FILTER_ERRORS:
            text += " (further errors are only counted)"
        self.notify(text, "warning")

    # -- what the dashboard reads ----------------------------------------------------------

    @property
    def status(self) -> SourceStatus:
        if self._failed is not None:
            return SourceStatus(SourceState.FAILED, self._failed)
        if self._stopped:
            return SourceStatus(SourceState.STOPPED)
        if self._stopping:
            progress = self.app.stop_progress() if self.app is not None else ""
            if progress.startswith("waiting"):
                progress += "; q again stops now"
            return SourceStatus(
                SourceState.STOPPING, progress or "finishing, committing, leaving the group"
            )
        if self._unreachable is not None:
            return SourceStatus(SourceState.UNREACHABLE, self._unreachable)
        app = self.app
        if app is None or not self._running:
            return SourceStatus(SourceState.STARTING, f"connecting to {self.broker}")
        if self._paused:
            return SourceStatus(SourceState.PAUSED, "p resumes")
        if broker_connected(app) is False:
            return SourceStatus(SourceState.UNREACHABLE, "lost the connection; reconnecting")
        snapshot = self._last
        if snapshot is not None:
            if snapshot.rebalancing:
                return SourceStatus(SourceState.REBALANCING)
            if self.group is not None and snapshot.generation is None:
                return SourceStatus(SourceState.REBALANCING, "joining the group")
            if not snapshot.partitions:
                return SourceStatus(SourceState.CONSUMING, "no partitions assigned")
            pressure = backpressure(snapshot)
            if pressure is not None:
                return SourceStatus(SourceState.BACKPRESSURE, pressure)
        return SourceStatus(SourceState.CONSUMING)

    @property
    def paused(self) -> bool:
        return self._paused

    def snapshot(self) -> EngineSnapshot | None:
        app = self.app
        if app is not None and self._running and not self._stopping:
            self._last = self._with_listed_ends(app.snapshot())
        return self._last

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive events from now on, after the last :data:`REPLAYED` ones so far (a
        dashboard that subscribes a moment after the start still sees them)."""
        for event in list(self._history):
            callback(event)
        self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def notify(self, text: str, level: Level = "info") -> None:
        """Publish a :class:`Notice` to the subscribers (and nowhere else)."""
        self._publish(Notice(text=text, level=level))

    def _publish(self, event: EngineEvent) -> None:
        if not isinstance(event, CommitStarted | CommitCompleted):
            self._history.append(event)
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("tail subscriber %r failed on %r", subscriber, event)

    def _on_engine_event(self, event: EngineEvent) -> None:
        if isinstance(event, PartitionsAssigned) and self._paused and self.app is not None:
            self.app.consumer.pause_partitions(event.tps, USER)
        self._publish(event)

    # -- controls ---------------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        app = self.app
        if app is not None and self._running:
            tps = app.consumer.assignment()
            if paused:
                app.consumer.pause_partitions(tps, USER)
            else:
                app.consumer.resume_partitions(tps, USER)
        self.notify(
            "paused: no partition is fetched (streams finish what they hold)"
            if paused
            else "resumed fetching",
        )

    def set_filter(self, expression: str | None) -> None:
        # Counted from here: the messages already in the buffer are filtered again now,
        # and their errors are the first ones shown (once).
        self._filter_errors_shown = 0
        self.buffer.set_filter(expression)
        text = self.buffer.expression
        self.notify(f"filter: {text}" if text else "filter cleared")

    @property
    def can_jump(self) -> bool:
        """Whether :meth:`jump` can move this session (``kconsume tail`` without a group)."""
        return self.make_app_at is not None and self.group is None

    def jump(self, start: StartAt, text: str) -> bool:
        """Read every partition again from ``start`` (``text``: as the user wrote it): the
        engine starts anew there and the tail is emptied.  Only without a group: a
        group reads from its committed offsets, which ``kconsume commit`` moves."""
        if self.group is not None:
            self.notify(
                f"cannot jump with a group (-g {self.group}): it reads from its committed "
                "offsets; move them with kconsume commit",
                "warning",
            )
            return False
        if self.make_app_at is None:
            self.notify("jumping is only available under kconsume tail", "warning")
            return False
        app = self.app
        if app is None or not self._running or self._stopping:
            self.notify("not consuming yet: nothing to jump in", "warning")
            return False
        self._start = start
        self._jumping = True
        self.buffer.clear()
        app.request_stop()
        self.notify(f"jumped to {text}: every partition is read again from there")
        return True

    async def commit_now(self) -> str:
        app = self.app
        level: Level
        if app is None or not self._running or self._stopping:
            text, level = "not consuming yet: nothing to commit", "warning"
        elif self.group is None:
            text, level = "no group (-g): the tail only observes and never commits", "warning"
        else:
            before = {p.tp: p.committed for p in app.snapshot().partitions}
            error: str | None = None
            try:
                ok = await app.consumer.force_commit()
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            after = app.snapshot().partitions
            moved = [f"{p.tp}→{p.committed}" for p in after if p.committed != before.get(p.tp)]
            if not ok:
                errors = {p.last_commit_error for p in after if p.last_commit_error}
                text = f"commit failed: {error or ', '.join(sorted(errors)) or 'unknown error'}"
                level = "error"
            elif moved:
                text, level = f"committed {', '.join(moved)}", "success"
            else:
                blocked = [
                    f"{p.tp} (blocked by @{p.oldest_inflight})"
                    for p in after
                    if p.oldest_inflight is not None and p.committed == p.oldest_inflight
                ]
                text = "nothing new to commit" + (f": {', '.join(blocked)}" if blocked else "")
                level = "info"
        self.notify(f"commit now: {text}", level)
        return text

    def _live_app(self) -> App | None:
        app = self.app
        return app if app is not None and self._running and not self._stopping else None

    def blocking_record(self) -> BlockingRecord | None:
        app = self._live_app()
        if app is None:
            return None
        snapshot = app.snapshot()
        found = blocked_longest(snapshot)
        if found is None:
            return None
        tp, offset = found
        state = app.consumer.partition_states().get(tp)
        message = state.find(offset) if state is not None else None
        if message is None:
            return None
        p = snapshot.partition(tp)
        return BlockingRecord(
            event=Event(message, message.key, message.value),
            inflight_for=p.oldest_inflight_age if p is not None else None,
            blocked_for=p.stalled_for if p is not None else None,
            holders=app.watchdog.holders(message),
        )

    def skip(self, tp: TP, offset: int) -> bool:
        """Ack ``tp``/``offset`` without processing it (the engine logs it and publishes
        ``MessageSkipped``); only with ``allow_skip``."""
        if not self.can_skip:
            self.notify("skipping is only available under kconsume run", "warning")
            return False
        app = self._live_app()
        if app is None or not app.skip(tp, offset):
            self.notify(f"cannot skip {tp}@{offset}: it is not in flight (any more)", "warning")
            return False
        return True
