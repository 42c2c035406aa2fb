"""RemoteSource: the :class:`~kconsume.tail.source.DashboardSource` of ``kconsume attach``.

It reads an observe endpoint (:mod:`kconsume.observe.server`): ``/info`` once,
``/snapshot`` every ``poll_interval`` seconds, and the ``/events`` stream, and decodes
them into the engine's own types, so the dashboard shows a remote engine exactly as it
shows a local one.  It is read-only unless made with ``control=True``, and even then
the endpoint decides (controls exist only on an endpoint with a token).  Quitting
the dashboard disconnects; it never stops the observed engine.

Two ways to be fed: the network routines (:meth:`start`), or a test calling
:meth:`apply_info`, :meth:`apply_snapshot` and :meth:`apply_event_line` with a
recorded stream.  When the endpoint goes away (connection refused, the event stream
cut without its end line), :attr:`gone` is set and :attr:`status` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from ..engine.events import CommitCompleted, CommitStarted, EngineEvent
from ..engine.observing import parse_address
from ..engine.snapshot import EngineSnapshot
from ..engine.types import TP, Event, Message
from ..errors import KConsumeError
from ..tail.buffer import TailBuffer
from ..tail.source import (
    BlockingRecord,
    Level,
    Notice,
    SourceState,
    SourceStatus,
    blocked_longest,
    holders,
)
from .wire import WireError, decode_event, decode_snapshot, decode_status

__all__ = ["AttachError", "RemoteSource"]

log = logging.getLogger(__name__)

#: Past events a new subscriber receives first (commit progress excluded).
REPLAYED = 100
#: Seconds without a byte on the event stream (the server sends a line every 2 s)
#: before the endpoint counts as not answering.
READ_TIMEOUT = 8.0

Subscriber = Callable[[EngineEvent], None]


class AttachError(KConsumeError):
    """The endpoint cannot be attached to (nothing listens, a wrong token, not kconsume)."""


class RemoteSource:
    """A dashboard source fed by an observe endpoint (see the module docstring)."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        control: bool = False,
        poll_interval: float = 0.25,
    ) -> None:
        host, port = parse_address(address)
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.url = f"http://{self.address}"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.control = control
        self.poll_interval = poll_interval
        self.broker = "?"
        self.topics: tuple[str, ...] = ()
        self.group: str | None = None
        self.can_skip = False
        self.can_commit = False
        #: Whether the endpoint accepts controls at all (it has a token).
        self.endpoint_controls = False
        #: Message payloads never leave the observed process: the tail stays empty.
        self.buffer = TailBuffer(100)
        self.has_payloads = False
        self.gone = asyncio.Event()
        #: Why the source stopped (None: it has not).
        self.reason: str | None = None
        self.ended = False
        self._remote = SourceStatus(SourceState.STARTING, f"attaching to {self.address}")
        self._unreachable: str | None = None
        self._paused = False
        self._last: EngineSnapshot | None = None
        self._last_event_at = 0.0
        self._history: deque[EngineEvent] = deque(maxlen=REPLAYED)
        self._subscribers: tuple[Subscriber, ...] = ()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    # -- feeding (network routines, or tests with a recording) ---------------------------

    def apply_info(self, data: dict[str, Any]) -> None:
        """What ``/info`` said: broker, topics, group, the controls it accepts."""
        self.broker = str(data.get("broker", "?"))
        self.topics = tuple(str(t) for t in data.get("topics", ()))
        group = data.get("group")
        self.group = str(group) if group is not None else None
        self.endpoint_controls = bool(data.get("control"))
        self.can_skip = self.control and bool(data.get("can_skip"))
        self.can_commit = self.control and bool(data.get("can_commit"))

    def apply_snapshot(self, data: dict[str, Any]) -> None:
        """What ``/snapshot`` said: the state, the pause, the engine snapshot."""
        self._remote = decode_status(data["status"])
        self._paused = bool(data.get("paused"))
        snapshot = decode_snapshot(data.get("snapshot"))
        if snapshot is not None:
            self._last = snapshot
        self._unreachable = None

    def apply_event_line(self, line: bytes) -> bool:
        """One line of ``/events``; False when it is the end line (the engine stopped)."""
        line = line.strip()
        if not line:
            return True  # keep-alive
        if line == b'{"type":"end"}':
            self.ended = True
            return False
        try:
            event = decode_event(line)
        except WireError as exc:
            log.warning("attach: an event this version cannot read: %s", exc)
            return True
        if event.at < self._last_event_at or (
            event.at == self._last_event_at and event in self._history
        ):
            return True  # replayed again after a reconnection
        self._last_event_at = event.at
        self._publish(event)
        return True

    def _publish(self, event: EngineEvent) -> None:
        if not isinstance(event, CommitStarted | CommitCompleted):
            self._history.append(event)
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("attach subscriber %r failed on %r", subscriber, event)

    def notify(self, text: str, level: Level = "info") -> None:
        """Publish a :class:`Notice` to the dashboard (and nowhere else)."""
        self._publish(Notice(text=text, level=level))

    def end(self, reason: str) -> None:
        """The endpoint is gone (or the engine stopped): say why, once."""
        if self.gone.is_set():
            return
        self.reason = reason
        self.notify(reason, "info" if self.ended else "error")
        self.gone.set()

    # -- the network ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Read ``/info``; raises :class:`AttachError` if nothing usable answers."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=10)
            )
        try:
            async with self._session.get(f"{self.url}/info") as response:
                if response.status == 401:
                    raise AttachError(
                        f"{self.address} refused: a wrong or missing token "
                        "(--token or $KCONSUME_OBSERVE_TOKEN)"
                    )
                if response.status != 200:
                    raise AttachError(f"{self.address} answered {response.status}: not kconsume?")
                data = orjson.loads(await response.read())
        except aiohttp.ClientError as exc:
            raise AttachError(f"cannot attach to {self.address}: {exc}") from None
        except (TimeoutError, orjson.JSONDecodeError) as exc:
            raise AttachError(f"cannot attach to {self.address}: {exc or 'timed out'}") from None
        if not isinstance(data, dict):
            raise AttachError(f"{self.address} is not a kconsume observe endpoint")
        self.apply_info(data)

    def start(self) -> None:
        """Start polling the snapshot and reading the events (returns at once)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._poll_routine(), name="kconsume-attach-poll"),
                asyncio.create_task(self._events_routine(), name="kconsume-attach-events"),
            ]

    async def stop(self) -> None:
        """Disconnect (the dashboard quits).  The observed engine goes on."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> RemoteSource:
        await self.connect()
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _poll_routine(self) -> None:
        """Every ``poll_interval``: ``/snapshot``.  A refused connection ends the source."""
        assert self._session is not None
        while not self.gone.is_set():
            try:
                async with self._session.get(
                    f"{self.url}/snapshot", timeout=aiohttp.ClientTimeout(total=READ_TIMEOUT)
                ) as response:
                    if response.status == 200:
                        self.apply_snapshot(orjson.loads(await response.read()))
            except aiohttp.ClientConnectorError as exc:
                self._lost(exc.strerror or str(exc))
                return
            except (TimeoutError, aiohttp.ClientError) as exc:
                self._unreachable = f"{self.address} does not answer ({exc or 'timed out'})"
            except (WireError, orjson.JSONDecodeError, KeyError) as exc:
                log.warning("attach: a snapshot this version cannot read: %s", exc)
            await asyncio.sleep(self.poll_interval)

    async def _events_routine(self) -> None:
        """Read ``/events`` line by line; reconnect after a silence, end when cut."""
        assert self._session is not None
        while not self.gone.is_set():
            try:
                async with self._session.get(
                    f"{self.url}/events",
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=READ_TIMEOUT),
                ) as response:
                    if response.status != 200:
                        self.end(f"{self.address} answered {response.status} for the events")
                        return
                    async for line in response.content:
                        if not self.apply_event_line(line):
                            self.end("the observed consumer stopped")
                            return
                self._lost("the event stream ended without its end line")
                return
            except TimeoutError:
                self._unreachable = f"{self.address} has not answered for {READ_TIMEOUT:g}s"
            except aiohttp.ClientConnectorError as exc:
                self._lost(exc.strerror or str(exc))
                return
            except aiohttp.ClientError:
                self._lost("the connection was cut")
                return

    def _lost(self, detail: str) -> None:
        self.end(f"lost {self.address}: {detail}; the observed process is gone")

    # -- what the dashboard reads --------------------------------------------------------------

    @property
    def status(self) -> SourceStatus:
        if self.gone.is_set():
            state = SourceState.STOPPED if self.ended else SourceState.FAILED
            return SourceStatus(state, self.reason or "")
        if self._unreachable is not None:
            return SourceStatus(SourceState.UNREACHABLE, self._unreachable)
        remote = self._remote
        mode = "control" if self.control and self.endpoint_controls else "read-only"
        via = f"attached to {self.address}, {mode}"
        return SourceStatus(remote.state, f"{remote.detail}; {via}" if remote.detail else via)

    @property
    def paused(self) -> bool:
        return self._paused

    def snapshot(self) -> EngineSnapshot | None:
        return self._last

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive events from now on, after the last :data:`REPLAYED` ones so far."""
        for event in list(self._history):
            callback(event)
        self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    # -- controls -----------------------------------------------------------------------------

    def _refused(self, what: str) -> bool:
        """Notify and return True if ``what`` may not be done from here."""
        if not self.control:
            self.notify(f"read-only: attach with --control to {what}", "warning")
            return True
        if not self.endpoint_controls:
            self.notify(f"the endpoint has no token, so it accepts no controls: cannot {what}")
            return True
        return False

    def set_paused(self, paused: bool) -> None:
        if self._refused("pause" if paused else "resume"):
            return
        self._send("/control/pause", {"paused": paused})

    def set_filter(self, expression: str | None) -> None:
        self.buffer.set_filter(expression)
        self.notify("attach shows no messages: the filter has nothing to filter")

    async def commit_now(self) -> str:
        if self._refused("commit"):
            return "read-only: nothing committed"
        if not self.can_commit:
            text = "no group: the observed consumer never commits"
        else:
            text = await self._post("/control/commit", {})
        self.notify(f"commit now: {text}")
        return text

    def blocking_record(self) -> BlockingRecord | None:
        """The blocking offset, from the snapshot (its payload stays in the process)."""
        snapshot = self._last
        found = blocked_longest(snapshot)
        if found is None or snapshot is None:
            return None
        tp, offset = found
        p = snapshot.partition(tp)
        message = Message(tp, offset, -1, None, None)
        message.refcount = 1
        return BlockingRecord(
            event=Event(message, None, None),
            inflight_for=p.oldest_inflight_age if p is not None else None,
            blocked_for=p.stalled_for if p is not None else None,
            holders=holders(snapshot, message),
        )

    def skip(self, tp: TP, offset: int) -> bool:
        """Ask the endpoint to skip ``tp``/``offset``; the result comes as an event."""
        if self._refused("skip"):
            return False
        if not self.can_skip:
            self.notify("the observed consumer does not allow skipping", "warning")
            return False
        self._send(
            "/control/skip", {"topic": tp.topic, "partition": tp.partition, "offset": offset}
        )
        return True

    def _send(self, path: str, body: dict[str, Any]) -> None:
        task = asyncio.create_task(self._post(path, body), name="kconsume-attach-control")
        self._tasks.append(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def _post(self, path: str, body: dict[str, Any]) -> str:
        """POST a control; notifies and returns what the endpoint said."""
        if self._session is None:
            return "not connected"
        try:
            async with self._session.post(f"{self.url}{path}", data=orjson.dumps(body)) as response:
                data = orjson.loads(await response.read()) if response.status != 401 else {}
                if response.status == 200:
                    text = str(data.get("text", "done"))
                    level: Level = "success"
                else:
                    text = str(data.get("error", f"refused ({response.status})"))
                    level = "warning"
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            text, level = f"{path.rsplit('/', 1)[-1]} failed: {exc}", "error"
        if path != "/control/commit":
            self.notify(text, level)
        return text
