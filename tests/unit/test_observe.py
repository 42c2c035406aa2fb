"""The observe endpoint over the in-process fake driver: wire format, metrics, tokens,
controls, and clients that do not read."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kconsume import App
from kconsume.engine import (
    TP,
    BackPressureWarning,
    CommitCompleted,
    CommitFailed,
    CommitFailingWarning,
    CommitStarted,
    DecodeError,
    EngineEvent,
    FetchStalledWarning,
    HandlerTimedOut,
    LivelockCleared,
    LivelockWarning,
    LoopBlockedWarning,
    MessageSkipped,
    PartitionsAssigned,
    PartitionsRevoked,
    RebalanceStarted,
    RevokeDrainTimeout,
    StopLeftUncommitted,
    StopStarted,
    StreamStalledWarning,
    WatchdogCleared,
)
from kconsume.engine.observing import ObserveConfigError, ObserveSettings, parse_address
from kconsume.observe import server as observe_server
from kconsume.observe.metrics import WATCHDOG_CAUSES, RateMeter
from kconsume.observe.server import ObserveServer
from kconsume.observe.wire import (
    decode_event,
    decode_snapshot,
    encode_event,
    encode_snapshot,
    event_types,
)
from kconsume.tail import Notice
from tests.fakes import FakeDriver, FakeTransport
from tests.helpers import wait_for
from tests.tui.scripted_source import ScriptedSource

A0, B0 = TP("a", 0), TP("b", 0)
TOKEN = "s3cret-token-value"


def observed_app(**kwargs: Any) -> tuple[App, FakeDriver, list[EngineEvent]]:
    transport = FakeTransport()
    kwargs.setdefault("commit_interval", 0.01)
    kwargs.setdefault("stop_drain_timeout", 0.2)
    app = App(transport=transport, observe="127.0.0.1:0", **kwargs)
    assert transport.driver is not None
    events: list[EngineEvent] = []
    app.events.subscribe(events.append)
    return app, transport.driver, events


def url(app: App, path: str) -> str:
    assert isinstance(app.observer, ObserveServer) and app.observer.port
    return f"http://127.0.0.1:{app.observer.port}{path}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# -- the wire format ------------------------------------------------------------------


def test_snapshots_and_every_event_type_come_back_as_they_went() -> None:
    source = ScriptedSource()
    for _ in range(5):
        snapshot = source.snapshot()
    assert snapshot is not None
    assert decode_snapshot(orjson.loads(orjson.dumps(encode_snapshot(snapshot)))) == snapshot
    samples: list[EngineEvent] = [
        RebalanceStarted(),
        PartitionsAssigned(tps=frozenset({A0, B0}), generation=3),
        PartitionsRevoked(tps=frozenset({A0})),
        CommitStarted(offsets={A0: 4}),
        CommitCompleted(offsets={A0: 4}, duration=0.01),
        CommitFailed(offsets={A0: 4}, error="RebalanceInProgress"),
        LivelockWarning(
            tp=A0, committed=3, blocking_offset=3, stalled_for=2.0, age=2.5, streams=("x",)
        ),
        LivelockCleared(tp=A0, committed=9),
        StreamStalledWarning(
            stream="x", waiting=4, stalled_for=1.0, current=A0, current_offset=3, current_for=1.5
        ),
        LoopBlockedWarning(drift=2.0, interval=1.0, suspended=True),
        BackPressureWarning(
            stream="x",
            tps=(A0, B0),
            buffered=8,
            maxsize=8,
            current=A0,
            current_offset=3,
            current_for=2.0,
        ),
        FetchStalledWarning(tp=A0, position=3, highwater=9, stalled_for=31.0),
        CommitFailingWarning(tp=A0, failures=3, error="boom"),
        RevokeDrainTimeout(held={A0: (3, 4)}, timeout=10.0),
        WatchdogCleared(cause="loop-blocked", subject="loop"),
        MessageSkipped(tp=A0, offset=3, streams=("x",)),
        MessageSkipped(tp=A0, offset=4, streams=("x", "y"), cancelled=("x",), still_running=("y",)),
        HandlerTimedOut(agent="x", tp=A0, offset=6, after=30.2, timeout=30.0),
        StopStarted(held={A0: (3,)}, streams=("x",), timeout=10.0, on_for=42.0),
        StopLeftUncommitted(held={A0: (3, 4)}, streams=("x",), why="hurried", waited=1.5),
        DecodeError(tp=A0, offset=5, streams=("x",), error="bad json"),
        Notice(text="hello", level="warning"),
    ]
    assert {type(e).__name__ for e in samples} | {"EngineEvent", "WatchdogWarning"} == set(
        event_types()
    )
    for event in samples:
        back = decode_event(encode_event(event))
        assert back == event and back.summary == event.summary


def test_an_unknown_event_type_is_shown_as_a_notice_with_its_summary() -> None:
    event = decode_event(b'{"type": "FromTheFuture", "at": 5.0, "summary": "something new"}')
    assert isinstance(event, Notice) and event.text == "something new"


# -- settings ----------------------------------------------------------------------------


def test_addresses_and_the_loopback_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCONSUME_OBSERVE_TOKEN", raising=False)
    assert parse_address("9464") == ("127.0.0.1", 9464)
    assert parse_address("[::1]:9464") == ("::1", 9464)
    assert ObserveSettings.create("localhost:1").token is None
    for address in ("0.0.0.0:9464", "10.1.2.3:9464", "metrics.internal:9464"):
        with pytest.raises(ObserveConfigError, match="needs a token"):
            ObserveSettings.create(address)
    assert ObserveSettings.create("0.0.0.0:9464", "t").token == "t"
    monkeypatch.setenv("KCONSUME_OBSERVE_TOKEN", TOKEN)
    settings = ObserveSettings.create("0.0.0.0:9464")
    assert settings.token == TOKEN and TOKEN not in repr(settings)
    for bad in (":9464", "host:port", "1.2.3.4:70000"):
        with pytest.raises(ObserveConfigError):
            parse_address(bad)


def test_the_rate_is_the_delivered_count_per_second_between_ticks() -> None:
    count = 0
    meter = RateMeter(lambda: count)
    meter.sample(10.0)
    count = 150
    meter.sample(10.5)
    assert meter.rate == 300.0


# -- metrics -------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def p(group: str, tp: TP) -> frozenset[tuple[str, str]]:
    return frozenset({"group": group, "topic": tp.topic, "partition": str(tp.partition)}.items())


def st(group: str, stream: str) -> frozenset[tuple[str, str]]:
    return frozenset({"group": group, "stream": stream}.items())


async def test_metrics_of_a_known_workload(http: aiohttp.ClientSession) -> None:
    """a[0]: 10 records, the agent hangs on offset 7; b[0]: 4 JSON records and one that
    is not JSON."""
    app, driver, events = observed_app(commit_livelock_soft_timeout=0.05, watchdog_interval=0.01)
    stuck, other = app.stream("a", name="stuck"), app.stream("b", value="json", name="other")
    release = asyncio.Event()

    async def hang() -> None:
        async for event in stuck:
            if event.offset == 7:
                await release.wait()

    async def drain() -> None:
        async for _ in other:
            pass

    await app.start()
    tasks = [asyncio.create_task(hang()), asyncio.create_task(drain())]
    try:
        await driver.assign([A0, B0])
        driver.produce(A0, 10)
        driver.produce(B0, 4, value=b'{"n": 1}')
        driver.produce(B0, 1, value=b"not json")
        driver.produce(A0, 2, skip=0)  # highwater 12
        states = app.consumer.partition_states()
        await wait_for(lambda: states[A0].committed == 7 and states[B0].committed == 5)
        await wait_for(lambda: any(isinstance(e, LivelockWarning) for e in events))
        async with http.get(url(app, "/metrics")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            got = samples(await response.text())
    finally:
        release.set()
        await app.stop()
        for task in tasks:
            task.cancel()
    a, b = p("g", A0), p("g", B0)
    assert got[("kconsume_committed_offset", a)] == 7
    assert got[("kconsume_committed_offset", b)] == 5
    assert got[("kconsume_delivered_end_offset", a)] == 12
    assert got[("kconsume_highwater_offset", a)] == 12
    assert got[("kconsume_lag_messages", a)] == 5
    assert got[("kconsume_lag_messages", b)] == 0
    assert got[("kconsume_inflight_messages", a)] == 5  # 7 (being processed) to 11
    assert got[("kconsume_inflight_messages", b)] == 0
    assert got[("kconsume_oldest_inflight_age_seconds", a)] > 0
    assert got[("kconsume_oldest_inflight_age_seconds", b)] == 0
    assert got[("kconsume_commit_stalled_seconds", a)] > 0
    assert got[("kconsume_commits_total", a | {("result", "ok")})] >= 1
    assert got[("kconsume_commits_total", a | {("result", "failed")})] == 0
    assert 0 <= got[("kconsume_last_commit_age_seconds", b)] < 5
    assert got[("kconsume_stream_processed_total", st("g", "stuck"))] == 7
    assert got[("kconsume_stream_processed_total", st("g", "other"))] == 4
    assert got[("kconsume_stream_buffer_messages", st("g", "stuck"))] == 4  # 8 to 11
    assert got[("kconsume_stream_buffer_fill_ratio", st("g", "stuck"))] == 4 / 4096
    assert got[("kconsume_stream_current_seconds", st("g", "stuck"))] > 0
    assert got[("kconsume_decode_errors_total", st("g", "other"))] == 1
    assert got[("kconsume_decode_errors_total", st("g", "stuck"))] == 0
    assert got[("kconsume_filter_errors_total", st("g", "stuck"))] == 0
    assert got[("kconsume_delivered_total", frozenset({("group", "g")}))] == 17
    assert ("kconsume_messages_per_second", frozenset({("group", "g")})) in got
    active = {
        cause: got[
            ("kconsume_watchdog_warnings_active", frozenset({"group": "g", "cause": cause}.items()))
        ]
        for cause in WATCHDOG_CAUSES
    }
    assert active["head-of-line"] == 1
    assert sum(active.values()) >= 1


# -- tokens and controls -------------------------------------------------------------------


async def test_a_wrong_or_missing_token_gets_a_bare_401(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app, driver, _ = observed_app(observe_token=TOKEN)
    stream = app.stream("a")
    await app.start()
    try:
        await driver.assign([A0])
        for path, method in (
            ("/info", "GET"),
            ("/snapshot", "GET"),
            ("/events", "GET"),
            ("/metrics", "GET"),
            ("/control/commit", "POST"),
            ("/control/skip", "POST"),
            ("/nothing-here", "GET"),
        ):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                async with http.request(method, url(app, path), headers=headers) as response:
                    assert response.status == 401, (path, headers)
                    assert await response.read() == b"", (path, headers)
        good = {"Authorization": f"Bearer {TOKEN}"}
        bodies = []
        for path in ("/info", "/snapshot", "/metrics"):
            async with http.get(url(app, path), headers=good) as response:
                assert response.status == 200
                bodies.append(await response.text())
        assert all(TOKEN not in body for body in bodies)
    finally:
        await app.stop()
        stream.stop()
    assert TOKEN not in caplog.text


async def test_without_a_token_there_are_no_controls(http: aiohttp.ClientSession) -> None:
    app, driver, _ = observed_app()
    stream = app.stream("a")
    await app.start()
    try:
        await driver.assign([A0])
        for path in ("/control/pause", "/control/commit", "/control/skip"):
            async with http.post(url(app, path), data=b'{"paused": true}') as response:
                assert response.status in (404, 405)
        async with http.get(url(app, "/info")) as response:
            info = await response.json()
        assert info["control"] is False and info["can_skip"] is False
        assert not app.consumer.partition_states()[A0].paused_by
    finally:
        await app.stop()
        stream.stop()


async def test_with_the_token_a_client_pauses_commits_and_skips_where_allowed(
    http: aiohttp.ClientSession,
) -> None:
    app, driver, events = observed_app(observe_token=TOKEN, commit_interval=3600)
    stream = app.stream("a")
    release = asyncio.Event()

    async def hang() -> None:
        async for event in stream:
            if event.offset == 2:
                await release.wait()

    good = {"Authorization": f"Bearer {TOKEN}"}
    await app.start()
    task = asyncio.create_task(hang())
    try:
        await driver.assign([A0])
        driver.produce(A0, 5)
        state = app.consumer.partition_states()[A0]
        await wait_for(lambda: stream.current is not None and stream.current.offset == 2)
        async with http.post(url(app, "/control/skip"), headers=good, json=skip_a2()) as r:
            assert r.status == 409 and "does not allow" in (await r.json())["error"]
        async with http.post(url(app, "/control/pause"), headers=good, json={"paused": True}) as r:
            assert r.status == 200
        assert "remote" in state.paused_by
        async with http.get(url(app, "/snapshot"), headers=good) as r:
            body = await r.json()
        assert body["paused"] is True and body["status"]["state"] == "paused"
        async with http.post(url(app, "/control/commit"), headers=good) as r:
            assert "a[0]→2" in (await r.json())["text"]
        assert state.committed == 2
        assert isinstance(app.observer, ObserveServer)
        app.observer.controls.allow_skip = True  # as kconsume run sets it
        async with http.post(url(app, "/control/skip"), headers=good, json=skip_a2()) as r:
            assert r.status == 200
        assert any(isinstance(e, MessageSkipped) and e.offset == 2 for e in events)
    finally:
        release.set()
        await app.stop()
        task.cancel()


def skip_a2() -> dict[str, Any]:
    return {"topic": "a", "partition": 0, "offset": 2}


# -- the event stream ---------------------------------------------------------------------------


async def test_a_new_client_gets_the_recent_events_first_then_live_ones_then_the_end(
    http: aiohttp.ClientSession,
) -> None:
    app, driver, _ = observed_app()
    stream = app.stream("a")
    await app.start()
    await driver.assign([A0])
    app.events.publish(Notice(text="before"))
    lines: list[bytes] = []
    async with http.get(url(app, "/events")) as response:
        assert response.headers["Content-Type"] == "application/x-ndjson"
        first = await response.content.readline()
        app.events.publish(Notice(text="after"))
        lines.append(first)
        while b'"after"' not in lines[-1]:
            lines.append(await response.content.readline())
        stopping = asyncio.create_task(app.stop())
        rest = await response.content.read()
        await stopping
    stream.stop()
    events = [decode_event(line) for line in lines if line.strip()]
    assert isinstance(events[0], PartitionsAssigned)
    assert [e.text for e in events if isinstance(e, Notice)] == ["before", "after"]
    assert rest.strip().endswith(b'{"type":"end"}')


async def test_a_client_that_stops_reading_is_dropped_and_never_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(observe_server, "CLIENT_QUEUE", 8)
    app, driver, _ = observed_app()
    stream = app.stream("a")
    await app.start()
    await driver.assign([A0])
    server = app.observer
    assert isinstance(server, ObserveServer) and server.port
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await wait_for(lambda: len(server.clients) == 1)
    big = "x" * 20_000
    slowest = 0.0
    try:
        for _ in range(400):  # about 8 MB the client never reads
            started = time.perf_counter()
            app.events.publish(Notice(text=big))
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0)
            if server.dropped_clients:
                break
        await wait_for(lambda: not server.clients, what="the stalled client dropped")
        assert server.dropped_clients == 1
        assert slowest < 0.05  # publishing never waits for the client
    finally:
        writer.close()
        await app.stop()
        stream.stop()


async def test_a_stuck_rebalance_drain_is_an_active_warning_until_the_next_assignment(
    http: aiohttp.ClientSession,
) -> None:
    app, driver, _ = observed_app()
    stream = app.stream("a")
    await app.start()
    key = (
        "kconsume_watchdog_warnings_active",
        frozenset({"group": "g", "cause": "rebalance-drain-stuck"}.items()),
    )

    async def active() -> float:
        async with http.get(url(app, "/metrics")) as response:
            return samples(await response.text())[key]

    try:
        assert await active() == 0
        app.events.publish(RevokeDrainTimeout(held={A0: (3,)}, timeout=10.0))
        assert await active() == 1
        await driver.assign([A0])
        assert await active() == 0
    finally:
        await app.stop()
        stream.stop()


async def test_an_address_in_use_is_a_clear_error_and_the_app_does_not_start() -> None:
    first, _, _ = observed_app()
    first_stream = first.stream("a")
    await first.start()
    try:
        assert isinstance(first.observer, ObserveServer) and first.observer.port
        second, driver, _ = observed_app()
        second.observe_at(f"127.0.0.1:{first.observer.port}")
        second.stream("a")
        with pytest.raises(ObserveConfigError, match="cannot serve the observe endpoint on"):
            await second.start()
        assert second.observer is None and not second.running
        assert not hasattr(driver, "topics")  # never connected: the endpoint comes first
    finally:
        await first.stop()
        first_stream.stop()
