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
from typing import Any, Protocol

from .codecs import Codec, codec
from .conductor import Conductor
from .consumer import DEFAULT_COMMIT_TIMEOUT, DEFAULT_STOP_DRAIN_TIMEOUT, Consumer
from .events import EventBus, MessageSkipped
from .fetcher import Fetcher
from .observing import ObserveSettings
from .positions import StartAt
from .snapshot import EngineSnapshot, take_snapshot
from .stream import DEFAULT_BUFFER_MAXSIZE, Stream
from .transport.aiokafka import AIOKafkaTransport
from .transport.base import KConsumeError, Transport
from .types import TP, Message
from .watchdog import Watchdog, WatchdogSettings

__all__ = ["Agent", "App", "transport_for"]

log = logging.getLogger(__name__)

AgentFun = Callable[[Stream], Awaitable[None]]


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


class Agent:
    """A coroutine function run over one stream while the app runs."""

    def __init__(self, fun: AgentFun, stream: Stream) -> None:
        self.fun = fun
        self.stream = stream
        self.name = stream.name

    def __repr__(self) -> str:
        return f"<Agent {self.name}>"


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
        self._started = False
        self._stopping: asyncio.Event | None = None
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
        if self._started:
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
    ) -> Callable[[AgentFun], AgentFun]:
        """Decorator: run ``async def fun(stream)`` over a new stream while the app runs."""

        def register(fun: AgentFun) -> AgentFun:
            stream = self.stream(
                *topics, key=key, value=value, name=name or fun.__name__, maxsize=maxsize
            )
            self.agents.append(Agent(fun, stream))
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
        if self._started:
            raise KConsumeError("set the observe address before the app starts")
        self.observe = ObserveSettings.create(address, token, allow_skip=allow_skip)

    # -- running -----------------------------------------------------------------

    async def start(self) -> None:
        """Connect, subscribe, and start fetching, committing and the agents.

        The observe endpoint, if any, starts first, so that it shows the app connecting.
        """
        if self._started:
            return
        topics = self.conductor.topics
        if not topics:
            raise KConsumeError("no streams declared: nothing to consume")
        self._stopping = asyncio.Event()
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
        self._started = True
        self.fetcher.start()
        self.watchdog.start()
        for agent in self.agents:
            task = asyncio.create_task(self._run_agent(agent), name=f"kconsume-agent-{agent.name}")
            self._agent_tasks.append(task)

    async def _run_agent(self, agent: Agent) -> None:
        try:
            await agent.fun(agent.stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("agent %s failed", agent.name)
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
        return self._started and not self.stop_requested

    @property
    def stop_requested(self) -> bool:
        """True once a stop was requested (by ``request_stop`` or a crash)."""
        return self._stopping is not None and self._stopping.is_set()

    def request_stop(self) -> None:
        """Ask ``run()`` to stop (safe from signal handlers and callbacks)."""
        if self._stopping is not None:
            self._stopping.set()

    async def wait_stopping(self) -> None:
        """Wait until a stop was requested (by ``request_stop`` or a crash)."""
        if self._stopping is None:
            raise KConsumeError("the app is not started")
        await self._stopping.wait()

    async def stop(self) -> None:
        """Stop fetching, let streams finish their current messages, commit, disconnect.

        Buffered messages that no stream started are dropped uncommitted, so they
        are fetched again next time.
        """
        if not self._started:
            return
        self._started = False
        await self.watchdog.stop()
        await self.fetcher.on_stop()
        self.conductor.drop_buffered()
        if not await self.consumer.wait_empty(self.stop_drain_timeout):
            # Interrupted, not finished: whatever ack the cancellation causes must not count.
            held = [m for s in self.conductor.streams for m in s.in_hand()]
            log.warning(
                "stopping while %s still being processed; they stay uncommitted",
                ", ".join(f"{m.tp}@{m.offset}" for m in held) or "messages are",
            )
            for message in held:
                self.consumer.drop(message)
        for stream in self.conductor.streams:
            stream.stop()
        tasks, self._agent_tasks = self._agent_tasks, []
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        try:
            await self.consumer.on_stop()
        finally:
            await self._stop_observer()

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

    def skip(self, tp: TP, offset: int) -> bool:
        """Ack the in-flight message at ``tp``/``offset`` without processing it.

        For a message that blocks a partition's commit (a poison pill, a stuck
        handler): it leaves every stream buffer, counts as done, and the commit can
        move past it.  A handler still on it finishes undisturbed; its ack then
        changes nothing.  Logged and published as ``MessageSkipped``.  Returns False
        if no such message is in flight.
        """
        state = self.consumer.partition_states().get(tp)
        message = state.inflight.get(offset) if state is not None else None
        if message is None:
            return False
        holders = self.watchdog.holders(message)
        for stream in self.conductor.streams:
            stream.remove(message)
        message.refcount = 0
        if not self.consumer.ack(message):  # dropped by a stop, or acked meanwhile
            return False
        skipped = MessageSkipped(tp=tp, offset=offset, streams=holders)
        log.warning("%s", skipped.summary)
        self.events.publish(skipped)
        return True

    async def _on_partitions_revoked(self, revoked: set[TP]) -> None:
        await self.conductor.on_partitions_revoked(revoked)

    async def _on_partitions_assigned(self, assigned: set[TP]) -> None:
        await self.conductor.on_partitions_assigned(assigned)
