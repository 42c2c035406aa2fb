"""App: ties transport, consumer, conductor, fetcher and streams together.

app = App("kafka://localhost:9092", group_id="orders-audit")

@app.agent("orders", value="json")
async def audit(stream):
    async for event in stream:
        print(event.offset, event.value["total"])

asyncio.run(app.run())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from enum import Enum
from typing import Any, Protocol

from ..errors import KConsumeError
from .agents import Agent, AgentFun
from .codecs import Codec, codec
from .conductor import Conductor
from .consumer import DEFAULT_COMMIT_TIMEOUT, DEFAULT_STOP_DRAIN_TIMEOUT, Consumer
from .events import EventBus, MessageSkipped, StopLeftUncommitted, StopStarted
from .fetcher import Fetcher
from .observing import ObserveSettings
from .positions import StartAt
from .snapshot import EngineSnapshot, take_snapshot
from .stream import DEFAULT_BUFFER_MAXSIZE, Stream
from .transport.aiokafka import AIOKafkaTransport
from .transport.base import Transport
from .types import TP, Message
from .watchdog import AGENT_TASK_PREFIX, Watchdog, WatchdogSettings

__all__ = ["Agent", "App", "AppLifecycle", "transport_for"]

log = logging.getLogger(__name__)


class AppLifecycle(Enum):
    """Where an App is in its life; ``App.lifecycle`` is its one home."""

    CREATED = "created"
    """Declaring streams and agents; not started."""
    RUNNING = "running"
    """Started: fetching, committing, agents running (a stop may have been requested)."""
    STOPPING = "stopping"
    """``stop()`` is under way: waiting for handlers, committing, leaving the group."""
    STOPPED = "stopped"


class Observer(Protocol):
    """The observe endpoint as the App sees it (:class:`kconsume.observe.ObserveServer`)."""

    filter_errors: Callable[[], Mapping[str, int]] | None
    """Per stream, errors of filters run outside the engine (set by ``kconsume consume``)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def transport_for(broker: str) -> type[Transport]:
    """The transport of a broker URL: ``rdkafka://`` (librdkafka, confluent-kafka), else
    ``kafka://`` or a bare ``host:port`` (aiokafka).  Caller: :class:`App`."""
    if broker.startswith(("rdkafka://", "librdkafka://")):
        from .transport.rdkafka import RdKafkaTransport

        return RdKafkaTransport
    return AIOKafkaTransport


class App:
    """A kconsume application: streams over topics, consumed by one engine.

    ``broker`` is a ``kafka://host:port[,host:port]`` URL (the aiokafka client), or
    ``rdkafka://host:port[,...]`` (librdkafka, through confluent-kafka; its own settings
    go in ``config={"fetch.wait.max.ms": 50}``).  Without ``group_id``
    the app only observes: it reads every partition (or ``partitions``) and never
    commits.  Partitions the group has no committed offset for start at
    ``start_at`` (``beginning``, ``end``, ``N``, ``-N``, ``@TIME``; default:
    ``auto_offset_reset``).  ``observe`` (``"127.0.0.1:9464"``) serves the snapshot,
    the events and Prometheus metrics there while the app runs (docs/attach.md); a
    non-loopback address needs ``observe_token`` (or ``$KCONSUME_OBSERVE_TOKEN``).
    ``transport`` replaces the Kafka transport (unit tests pass an in-process fake).
    Other keyword arguments are transport settings (SSL, SASL, aiokafka tuning).
    """

    def __init__(
        self,
        broker: str = "kafka://localhost:9092",
        *,
        group_id: str | None = None,
        client_id: str = "kconsume",
        auto_offset_reset: str = "earliest",
        partitions: Iterable[int] | None = None,
        commit_interval: float | None = None,
        commit_livelock_soft_timeout: float | None = None,
        stream_processing_timeout: float | None = None,
        fetch_stall_timeout: float = 30.0,
        loop_block_threshold: float = 1.0,
        watchdog_interval: float = 1.0,
        revoke_drain_timeout: float | None = None,
        commit_timeout: float = DEFAULT_COMMIT_TIMEOUT,
        stop_drain_timeout: float = DEFAULT_STOP_DRAIN_TIMEOUT,
        start_at: StartAt | str | None = None,
        stream_buffer_maxsize: int = DEFAULT_BUFFER_MAXSIZE,
        observe: str | None = None,
        observe_token: str | None = None,
        transport: Transport | None = None,
        **transport_settings: Any,
    ) -> None:
        self.events = EventBus()
        #: Where the observe endpoint listens (None: off).  Set by :meth:`observe_at`.
        self.observe: ObserveSettings | None = None
        #: The running observe endpoint (between start and stop).
        self.observer: Observer | None = None
        self.stream_buffer_maxsize = stream_buffer_maxsize
        self.stop_drain_timeout = stop_drain_timeout
        if transport is None:
            transport_class = transport_for(broker)
            transport = transport_class(
                broker,
                group_id=group_id,
                client_id=client_id,
                auto_offset_reset=auto_offset_reset,
                partitions=list(partitions) if partitions is not None else None,
                **transport_settings,
            )
        transport.app = self
        self.transport = transport
        self.conductor = Conductor(self.events)
        self.consumer: Consumer = transport.create_consumer(
            self.conductor.on_message,
            self._on_partitions_revoked,
            self._on_partitions_assigned,
            slice_callback=self.conductor.on_slice,
            commit_interval=commit_interval,
            commit_livelock_soft_timeout=commit_livelock_soft_timeout,
            revoke_drain_timeout=revoke_drain_timeout,
            commit_timeout=commit_timeout,
            start_at=StartAt.parse(start_at) if isinstance(start_at, str) else start_at,
            events=self.events,
        )
        self.conductor.bind(self.consumer)
        self.fetcher = Fetcher(self.consumer, self.crash)
        livelock = self.consumer.commit_livelock_soft_timeout
        self.watchdog = Watchdog(
            self.consumer,
            self.conductor,
            self.events,
            WatchdogSettings(
                interval=watchdog_interval,
                commit_livelock_soft_timeout=livelock,
                stream_processing_timeout=stream_processing_timeout or livelock,
                fetch_stall_timeout=fetch_stall_timeout,
                loop_block_threshold=loop_block_threshold,
            ),
        )
        self.agents: list[Agent] = []
        self._agent_tasks: list[asyncio.Task[None]] = []
        self.lifecycle = AppLifecycle.CREATED
        #: Set by a stop request (``request_stop``, a crash); ``run()`` waits on it.
        self._stopping: asyncio.Event | None = None
        #: Set by a second stop request while ``stop()`` waits for handlers: stop at once.
        self._hurry: asyncio.Event | None = None
        #: While ``stop()`` waits for handlers: until when (``loop.time()``), else None.
        self.stop_deadline: float | None = None
        self._crash_reason: BaseException | None = None
        if observe is not None:
            self.observe_at(observe, observe_token)

    # -- declaring streams ---------------------------------------------------

    def stream(
        self,
        *topics: str,
        key: str | Codec | None = "raw",
        value: str | Codec | None = "raw",
        name: str | None = None,
        maxsize: int | None = None,
        prefilter: Callable[[Message], bool] | None = None,
    ) -> Stream:
        """Declare a stream over ``topics`` decoded with the ``key``/``value`` codecs.

        ``prefilter`` sees each raw message before it is decoded; when it returns
        False the message is skipped (and acked) for this stream without decoding.
        """
        if self.lifecycle is not AppLifecycle.CREATED:
            raise KConsumeError("declare streams before the app starts")
        taken = {s.name for s in self.conductor.streams}
        if name is None:
            base = "+".join(topics)
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}#{n}"
        elif name in taken:
            raise KConsumeError(f"a stream named {name!r} exists already")
        stream = Stream(
            self.consumer,
            topics,
            name=name,
            key_codec=codec(key),
            value_codec=codec(value),
            maxsize=maxsize or self.stream_buffer_maxsize,
            prefilter=prefilter,
        )
        self.conductor.add(stream)
        return stream

    def agent(
        self,
        *topics: str,
        key: str | Codec | None = "raw",
        value: str | Codec | None = "raw",
        name: str | None = None,
        maxsize: int | None = None,
        timeout: float | None = None,
    ) -> Callable[[AgentFun], AgentFun]:
        """Decorator: run ``async def fun(stream)`` over a new stream while the app runs.

        ``timeout``: the seconds the loop body may spend on one event (or one ``take``
        batch).  Past it the iteration is cancelled, the record acked unprocessed and
        reported (``HandlerTimedOut``, with its offset), and ``fun`` is called again over
        the stream, which goes on with the next message (see :mod:`.agents`).
        """
        if timeout is not None and timeout <= 0:
            raise KConsumeError("an agent's timeout must be positive (None: no time limit)")

        def register(fun: AgentFun) -> AgentFun:
            stream = self.stream(
                *topics, key=key, value=value, name=name or fun.__name__, maxsize=maxsize
            )
            self.agents.append(Agent(fun, stream, timeout=timeout))
            return fun

        return register

    def observe_at(
        self, address: str, token: str | None = None, *, allow_skip: bool = False
    ) -> None:
        """Serve the observe endpoint at ``address`` while the app runs (see the class).

        Caller: ``App(observe=...)`` and the ``--observe`` option of the commands, before
        the app starts.  ``allow_skip`` lets a controlling client skip a blocking message
        (``kconsume run`` sets it).  Raises ``ObserveConfigError`` for a bad address or a
        non-loopback one without a token.
        """
        if self.lifecycle is not AppLifecycle.CREATED:
            raise KConsumeError("set the observe address before the app starts")
        self.observe = ObserveSettings.create(address, token, allow_skip=allow_skip)

    # -- running -----------------------------------------------------------------

    async def start(self) -> None:
        """Connect, subscribe, and start fetching, committing and the agents.

        The observe endpoint, if any, starts first, so that it shows the app connecting.
        """
        if self.lifecycle is not AppLifecycle.CREATED:
            return
        topics = self.conductor.topics
        if not topics:
            raise KConsumeError("no streams declared: nothing to consume")
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        if self.observe is not None and self.observer is None:
            from ..observe.server import ObserveServer  # aiohttp only when observed

            observer = ObserveServer(self, self.observe)
            await observer.start()
            self.observer = observer
        try:
            await self.consumer.start(topics)
        except BaseException:
            await self._stop_observer()
            raise
        self.lifecycle = AppLifecycle.RUNNING
        self.fetcher.start()
        self.watchdog.start()
        for agent in self.agents:
            task = asyncio.create_task(
                agent.run(self.events, self._agent_failed), name=f"{AGENT_TASK_PREFIX}{agent.name}"
            )
            agent.task = task
            self._agent_tasks.append(task)

    async def _agent_failed(self, exc: BaseException) -> None:
        """An agent raised: commit what is acked, then stop the app.  Caller: ``Agent.run``."""
        await self.consumer.on_task_error(exc)
        self.crash(exc)

    @property
    def crash_reason(self) -> BaseException | None:
        """The error that stopped the app on its own (a failed fetch loop or agent)."""
        return self._crash_reason

    def crash(self, exc: BaseException) -> None:
        """Stop the app because of ``exc``; ``run()`` re-raises it."""
        if self._crash_reason is None:
            self._crash_reason = exc
        self.request_stop()

    @property
    def running(self) -> bool:
        """True between a successful start and a stop request."""
        return self.lifecycle is AppLifecycle.RUNNING and not self.stop_requested

    @property
    def stop_requested(self) -> bool:
        """True once a stop was requested (by ``request_stop`` or a crash)."""
        return self._stopping is not None and self._stopping.is_set()

    def request_stop(self) -> None:
        """Ask ``run()`` to stop (safe from signal handlers and callbacks).

        Asked again while ``stop()`` waits for handlers still on their records, it stops
        waiting at once: those records stay uncommitted (a second Ctrl-C, a second ``q``).
        """
        if self._stopping is None:
            return
        if self._hurry is not None and (
            self._stopping.is_set() or self.lifecycle is AppLifecycle.STOPPING
        ):
            self._hurry.set()
        self._stopping.set()

    async def wait_stopping(self) -> None:
        """Wait until a stop was requested (by ``request_stop`` or a crash)."""
        if self._stopping is None:
            raise KConsumeError("the app is not started")
        await self._stopping.wait()

    async def stop(self) -> None:
        """Stop fetching, let streams finish their current messages, commit, disconnect.

        Caller: ``run()``, ``async with``, or whoever started the app.  Buffered messages
        that no stream started are dropped uncommitted, so they are fetched again next
        time.  It says at once what it waits for (``StopStarted``); the wait ends when the
        handlers are done, after ``stop_drain_timeout``, on a second stop request, or when
        the calling task is cancelled again (a second Ctrl-C).  What was still being
        processed then stays uncommitted (``StopLeftUncommitted``), its agents are
        cancelled, and the stop goes on: it commits what is done, leaves the group and
        closes the clients, even through further cancellations, and then re-raises the
        cancellation.
        """
        if self.lifecycle is not AppLifecycle.RUNNING:
            return
        self.lifecycle = AppLifecycle.STOPPING
        if self._stopping is not None:
            self._stopping.set()
        cancelled = await _through_cancellation(self.watchdog.stop())
        cancelled |= await _through_cancellation(self.fetcher.on_stop())
        self.conductor.drop_buffered()
        held = self._in_hand()
        now = time.monotonic()
        self._publish_logged(
            StopStarted(
                held=_offsets(held),
                streams=_names(held),
                timeout=self.stop_drain_timeout,
                on_for=max(
                    (
                        now - since
                        for s in self._busy_streams()
                        if (since := s.current_since(now)) is not None
                    ),
                    default=None,
                ),
            ),
            logging.INFO,
        )
        drained, why, waited = await self._drain(hurry=cancelled)
        cancelled |= why == "cancelled"
        stuck: set[Stream] = set()
        if not drained:
            # Interrupted, not finished: whatever ack the cancellation causes must not count.
            held = self._in_hand()
            stuck = set(self._busy_streams())
            self._publish_logged(
                StopLeftUncommitted(
                    held=_offsets(held),
                    streams=_names(held),
                    why="timeout" if why == "timeout" else "hurried",
                    waited=waited,
                ),
                logging.WARNING,
            )
            for _, message in held:
                self.consumer.drop(message)
        for stream in self.conductor.streams:
            stream.stop()
        tasks, self._agent_tasks = self._agent_tasks, []
        cancelled |= await self._end_agents(tasks, stuck)
        try:
            cancelled |= await _through_cancellation(self.consumer.on_stop())
        finally:
            cancelled |= await _through_cancellation(self._stop_observer())
            self.lifecycle = AppLifecycle.STOPPED
        if cancelled:
            raise asyncio.CancelledError  # the caller's cancellation, held until now

    def stop_progress(self) -> str:
        """What the stop is doing now, for people (the STOPPING line of the dashboard).

        Caller: status readers, on a timer.  Names the handlers the stop waits for and
        how much longer it waits, while it does.
        """
        if self.lifecycle is not AppLifecycle.STOPPING:
            return ""
        deadline = self.stop_deadline
        held = self._in_hand()
        if deadline is None or not held:
            return "committing, leaving the group"
        left = max(0.0, deadline - asyncio.get_running_loop().time())
        on = ", ".join(f"{name} on {m.tp}@{m.offset}" for name, m in held[:3])
        more = f" and {len(held) - 3} more" if len(held) > 3 else ""
        return f"waiting {left:.0f}s more for {on}{more}"

    def _busy_streams(self) -> list[Stream]:
        return [s for s in self.conductor.streams if s.in_hand()]

    def _in_hand(self) -> list[tuple[str, Message]]:
        """(stream name, message) of every record a handler is on now."""
        return [(s.name, m) for s in self.conductor.streams for m in s.in_hand()]

    async def _drain(self, *, hurry: bool) -> tuple[bool, str, float]:
        """Wait for the handlers.  Caller: ``stop``.

        Returns (drained, why the wait ended: ``drained``, ``timeout``, ``hurried`` (a
        second stop request) or ``cancelled`` (the caller was cancelled), seconds waited).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.consumer.live == 0 or hurry:
            return self.consumer.live == 0, "drained" if self.consumer.live == 0 else "hurried", 0.0
        assert self._hurry is not None
        self.stop_deadline = started + self.stop_drain_timeout
        empty = asyncio.ensure_future(self.consumer.wait_empty(self.stop_drain_timeout))
        hurried = asyncio.ensure_future(self._hurry.wait())
        why = "timeout"
        try:
            await asyncio.wait((empty, hurried), return_when=asyncio.FIRST_COMPLETED)
            if hurried.done() and not empty.done():
                why = "hurried"
        except asyncio.CancelledError:  # a second Ctrl-C: stop at once
            why = "cancelled"
        finally:
            self.stop_deadline = None
            empty.cancel()
            hurried.cancel()
        drained = self.consumer.live == 0
        return drained, "drained" if drained else why, loop.time() - started

    async def _end_agents(self, tasks: list[asyncio.Task[None]], stuck: set[Stream]) -> bool:
        """Let agents end their loops; cancel at once those still on a record, the
        others after a second.  True if the caller was cancelled meanwhile."""
        by_task = {agent.task: agent for agent in self.agents}
        for task in tasks:
            agent = by_task.get(task)
            if agent is not None and agent.stream in stuck:
                task.cancel()
        if not tasks:
            return False
        cancelled = False
        try:
            await asyncio.wait(tasks, timeout=1.0)
        except asyncio.CancelledError:
            cancelled = True
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with contextlib.suppress(Exception):
                cancelled |= await _through_cancellation(task)
        return cancelled

    def _publish_logged(self, event: StopStarted | StopLeftUncommitted, level: int) -> None:
        log.log(level, "%s", event.summary, extra={"kconsume_event": True})
        self.events.publish(event)

    async def _stop_observer(self) -> None:
        observer, self.observer = self.observer, None
        if observer is not None:
            await observer.stop()

    async def run(self) -> None:
        """Start, run until a stop is requested or a task crashes, then stop."""
        await self.start()
        try:
            await self.wait_stopping()
        finally:
            await self.stop()
        if self._crash_reason is not None:
            raise self._crash_reason

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- observing ---------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        """The engine's state now: per partition and per stream (cheap; poll it)."""
        consumer = self.consumer
        driver = consumer.driver
        now = time.monotonic()
        return take_snapshot(
            states=consumer.partition_states(),
            streams=(s.snapshot(now) for s in self.conductor.streams),
            group_id=consumer.group_id,
            generation=driver.generation,
            member_id=driver.member_id,
            rebalancing=consumer.rebalancing,
            delivered_total=consumer.delivered_total,
            stall=self.watchdog,
        )

    def skip(self, tp: TP, offset: int) -> MessageSkipped | None:
        """Ack the in-flight message at ``tp``/``offset`` without processing it.

        Caller: the dashboard's ``s`` and the observe endpoint's skip control.  For a
        message that blocks a partition's commit (a poison pill, a stuck handler): it
        leaves every stream buffer, counts as done, and the commit can move past it.
        An agent whose loop body is on it has that iteration cancelled and goes on with
        the next message; a reader that is no agent (the user's own task) cannot be
        cancelled, nor is an agent on a ``take()`` batch of several records (the others
        would go unprocessed): the event says they stay stuck.  Logged and published as
        ``MessageSkipped``, which is returned; None if no such message is in flight.
        """
        state = self.consumer.partition_states().get(tp)
        message = state.find(offset) if state is not None else None
        if message is None:
            return None
        holders = self.watchdog.holders(message)
        on_it = [s for s in self.conductor.streams if any(m is message for m in s.in_hand())]
        for stream in self.conductor.streams:
            stream.remove(message)
        message.refcount = 0
        if not self.consumer.ack(message):  # dropped by a stop, or acked meanwhile
            return None
        agents = {agent.stream: agent for agent in self.agents}
        batched = tuple(s.name for s in on_it if s in agents and len(s.in_hand()) > 1)
        cancelled = tuple(
            s.name for s in on_it if s in agents and s.name not in batched and agents[s].cut("skip")
        )
        skipped = MessageSkipped(
            tp=tp,
            offset=offset,
            streams=holders,
            cancelled=cancelled,
            still_running=tuple(s.name for s in on_it if s.name not in cancelled + batched),
            batched=batched,
        )
        log.warning("%s", skipped.summary, extra={"kconsume_event": True})
        self.events.publish(skipped)
        return skipped

    async def _on_partitions_revoked(self, revoked: set[TP]) -> None:
        await self.conductor.on_partitions_revoked(revoked)

    async def _on_partitions_assigned(self, assigned: set[TP]) -> None:
        await self.conductor.on_partitions_assigned(assigned)


def _offsets(held: list[tuple[str, Message]]) -> dict[TP, tuple[int, ...]]:
    offsets: dict[TP, list[int]] = {}
    for _, message in held:
        offsets.setdefault(message.tp, []).append(message.offset)
    return {tp: tuple(sorted(set(o))) for tp, o in offsets.items()}


def _names(held: list[tuple[str, Message]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name, _ in held))


async def _through_cancellation(aw: Awaitable[object]) -> bool:
    """Await ``aw`` to its end even if the caller is cancelled meanwhile (a second and
    third Ctrl-C must not leave a client open).  True if the caller was cancelled."""
    task = asyncio.ensure_future(aw)
    cancelled = False
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                cancelled = True
                continue
        return cancelled
