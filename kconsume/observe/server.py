"""The observe endpoint: an aiohttp server beside a running App.

Routes (all ``GET`` unless said):

* ``/info``: broker, topics, group, and which controls this endpoint accepts;
* ``/snapshot``: the state (``SourceStatus``) and ``App.snapshot()``, taken per request;
* ``/events``: newline-delimited JSON events (:mod:`kconsume.observe.wire`), the recent
  ones first, then live; an empty line every :data:`KEEPALIVE` seconds; a last
  ``{"type": "end"}`` line when the app stops;
* ``/metrics``: Prometheus text (:mod:`kconsume.observe.metrics`), built per scrape;
* ``POST /control/pause``, ``/control/commit``, ``/control/skip``: only when the
  endpoint has a token (so never on a token-less endpoint).

Every request must carry ``Authorization: Bearer TOKEN`` when a token is set; any
other gets a bare 401.  The engine's side costs one callback per engine event (rare:
no per-message events exist), which appends to a bounded history and to each
client's bounded queue; a client whose queue is full, or whose socket takes longer
than :data:`WRITE_TIMEOUT` to accept a line, is dropped, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from .._version import __version__
from ..engine.events import (
    CommitCompleted,
    CommitStarted,
    EngineEvent,
    PartitionsAssigned,
    RevokeDrainTimeout,
)
from ..engine.observing import ObserveConfigError, ObserveSettings
from ..engine.types import TP
from ..tail.source import SourceState, SourceStatus, backpressure
from .controls import AppControls
from .metrics import EngineCollector, RateMeter
from .wire import encode_event, encode_snapshot, encode_status

if TYPE_CHECKING:
    from ..engine.app import App

__all__ = ["CLIENT_QUEUE", "HISTORY", "KEEPALIVE", "WRITE_TIMEOUT", "ObserveServer", "app_status"]

log = logging.getLogger(__name__)

#: Recent events a new ``/events`` client receives first (commit progress excluded).
HISTORY = 100
#: Events waiting for one client beyond this many drop that client.
CLIENT_QUEUE = 1024
#: Seconds a client may take to accept one line before it is dropped.
WRITE_TIMEOUT = 5.0
#: Seconds between keep-alive lines on an idle ``/events``.
KEEPALIVE = 2.0
#: Seconds a stop waits for event streams to send their end line (then cuts them).
SHUTDOWN_TIMEOUT = 1.0
#: ``/events`` clients at once; more get 503.
MAX_CLIENTS = 32
#: The line that ends ``/events`` when the app stops.
END = b'{"type":"end"}\n'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_status(app: App, paused: bool) -> SourceStatus:
    """The state of a headless App in the dashboard's terms."""
    if app.crash_reason is not None:
        reason = app.crash_reason
        return SourceStatus(SourceState.FAILED, f"{type(reason).__name__}: {reason}")
    if app.stop_requested:
        progress = app.stop_progress() or "finishing, committing, leaving the group"
        return SourceStatus(SourceState.STOPPING, progress)
    if not app.running:
        return SourceStatus(SourceState.STARTING, f"connecting to {app.transport.url}")
    if paused:
        return SourceStatus(SourceState.PAUSED, "paused by a remote client")
    if app.consumer.rebalancing:
        return SourceStatus(SourceState.REBALANCING)
    if app.consumer.group_id is not None and app.consumer.driver.generation is None:
        return SourceStatus(SourceState.REBALANCING, "joining the group")
    pressure = backpressure(app.snapshot())
    if pressure is not None:
        return SourceStatus(SourceState.BACKPRESSURE, pressure)
    return SourceStatus(SourceState.CONSUMING)


class _Client:
    """One ``/events`` subscriber: its bounded queue and how to cut it off."""

    __slots__ = ("dropped", "queue", "task", "transport")

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self.queue: asyncio.Queue[EngineEvent | bytes] = asyncio.Queue(CLIENT_QUEUE)
        self.task = asyncio.current_task()
        self.transport = transport
        self.dropped = False

    def drop(self) -> None:
        """Cut the client off at once (its queue is full: it does not read)."""
        if self.dropped:
            return
        self.dropped = True
        if self.transport is not None:
            self.transport.abort()
        if self.task is not None:
            self.task.cancel()


class ObserveServer:
    """The observe endpoint of one App (started and stopped by ``App.start``/``stop``).

    ``filter_errors`` (set by ``kconsume consume``) counts, per stream, errors of filters
    run outside the engine, for ``kconsume_filter_errors_total``.
    """

    def __init__(self, app: App, settings: ObserveSettings) -> None:
        self.app = app
        self.settings = settings
        self.controls = AppControls(app, allow_skip=settings.allow_skip)
        self.rate = RateMeter(lambda: app.consumer.delivered_total)
        self.filter_errors: Callable[[], Mapping[str, int]] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        #: A revoke that timed out, active until the next assignment (the watchdog's table
        #: does not hold it: the consumer reports it).
        self.drain_stuck: RevokeDrainTimeout | None = None
        self.registry.register(
            EngineCollector(app, self.rate, self._filter_errors, self._more_warnings)
        )
        self.history: deque[EngineEvent] = deque(maxlen=HISTORY)
        self.clients: set[_Client] = set()
        self.dropped_clients = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._runner: web.AppRunner | None = None
        self._tick: asyncio.Task[None] | None = None
        #: The port actually bound (``settings.port`` unless that was 0).
        self.port: int | None = None

    def _filter_errors(self) -> Mapping[str, int]:
        return self.filter_errors() if self.filter_errors is not None else {}

    def _more_warnings(self) -> list[tuple[str, str]]:
        stuck = self.drain_stuck
        return [(stuck.cause, stuck.subject)] if stuck is not None else []

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the engine's events and listen.  Caller: ``App.start``."""
        web_app = web.Application(middlewares=[self._authorise])
        web_app.router.add_get("/info", self._info)
        web_app.router.add_get("/snapshot", self._snapshot)
        web_app.router.add_get("/events", self._events)
        web_app.router.add_get("/metrics", self._metrics)
        if self.settings.token is not None:
            web_app.router.add_post("/control/pause", self._pause)
            web_app.router.add_post("/control/commit", self._commit)
            web_app.router.add_post("/control/skip", self._skip)
        self._unsubscribe = self.app.events.subscribe(self._on_event)
        self.controls.start()
        runner = web.AppRunner(
            web_app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._release()
            where = self.settings.address
            raise ObserveConfigError(
                f"cannot serve the observe endpoint on {where}: {exc.strerror or exc}"
            ) from None
        self._runner = runner
        bound = runner.addresses  # the port actually bound, when 0 was asked for
        self.port = int(bound[0][1]) if bound else self.settings.port
        self._tick = asyncio.create_task(self._tick_routine(), name="kconsume-observe-tick")
        log.info(
            "observe endpoint on http://%s:%s/ (%s)",
            self.settings.host,
            self.port,
            "token required" if self.settings.token else "loopback, no token",
        )

    async def stop(self) -> None:
        """End every event stream (with the end line), stop listening.  Caller: ``App.stop``."""
        self._release()
        for client in list(self.clients):
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(END)
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
            self._tick = None
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.shutdown()
            await runner.cleanup()

    def _release(self) -> None:
        self.controls.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _tick_routine(self) -> None:
        """Once a second: sample the delivered count for the rate metric."""
        while True:
            self.rate.sample()
            await asyncio.sleep(1.0)

    # -- the engine's side ------------------------------------------------------------

    def _on_event(self, event: EngineEvent) -> None:
        """Bus callback (on the engine's task): O(clients), never blocks."""
        if not isinstance(event, CommitStarted | CommitCompleted):
            self.history.append(event)
        if isinstance(event, RevokeDrainTimeout):
            self.drain_stuck = event
        elif isinstance(event, PartitionsAssigned):
            self.drain_stuck = None
        for client in self.clients:
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        if not client.dropped:
            self.dropped_clients += 1
            log.warning("observe: dropped an events client that does not keep up")
        client.drop()

    # -- requests ----------------------------------------------------------------------

    @web.middleware
    async def _authorise(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.settings.token
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.Response(status=401)
        return await handler(request)

    async def _info(self, _: web.Request) -> web.Response:
        app = self.app
        controls = self.settings.token is not None
        return _json(
            {
                "version": __version__,
                "broker": app.transport.url,
                "topics": sorted(app.conductor.topics),
                "group": app.consumer.group_id,
                "control": controls,
                "can_skip": controls and self.settings.allow_skip,
                "can_commit": controls and self.controls.can_commit,
            }
        )

    async def _snapshot(self, _: web.Request) -> web.Response:
        app = self.app
        snapshot = app.snapshot() if app.running or app.stop_requested else None
        return _json(
            {
                "status": encode_status(app_status(app, self.controls.paused)),
                "paused": self.controls.paused,
                "snapshot": encode_snapshot(snapshot),
            }
        )

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if len(self.clients) >= MAX_CLIENTS:
            return web.Response(status=503, text="too many event clients")
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        client = _Client(request.transport)
        for event in self.history:  # no await between the copy and the registration
            client.queue.put_nowait(event)
        self.clients.add(client)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(client.queue.get(), KEEPALIVE)
                except TimeoutError:
                    item = b"\n"
                line = item if isinstance(item, bytes) else encode_event(item)
                await asyncio.wait_for(response.write(line), WRITE_TIMEOUT)
                if item is END:
                    break
        except TimeoutError:
            self._drop(client)
        except (ConnectionError, RuntimeError):
            pass  # the client left
        finally:
            self.clients.discard(client)
        return response

    # -- controls (only with a token) -----------------------------------------------------

    async def _pause(self, request: web.Request) -> web.Response:
        body = await _body(request)
        paused = body.get("paused")
        if not isinstance(paused, bool):
            return _json({"error": 'send {"paused": true|false}'}, status=400)
        return _json({"text": self.controls.set_paused(paused)})

    async def _commit(self, _: web.Request) -> web.Response:
        return _json({"text": await self.controls.commit_now()})

    async def _skip(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            tp = TP(str(body["topic"]), int(body["partition"]))
            offset = int(body["offset"])
        except (KeyError, TypeError, ValueError):
            return _json({"error": "send {topic, partition, offset}"}, status=400)
        refused = self.controls.skip(tp, offset)
        if refused is not None:
            return _json({"error": refused}, status=409)
        return _json({"text": f"skipped {tp}@{offset}"})


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
