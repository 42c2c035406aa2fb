"""``kconsume tail``: the tail session and the dashboard against the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC
from pathlib import Path

import orjson
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from kconsume import App
from kconsume.broker import free_port
from kconsume.consume import ConsumeOptions
from kconsume.engine import TP, StartAt
from kconsume.tail import SourceState, TailSession
from kconsume.tui import DashboardApp
from kconsume.tui.screens import JumpScreen, SkipScreen
from kconsume.tui.widgets import EventLog, MessageLog, PartitionsTable
from tests.brokers import Broker, client_url
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed

pytestmark = pytest.mark.broker

FAST_GROUP = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}


def options(broker: Broker, topic: str, group: str | None, **kwargs: object) -> ConsumeOptions:
    kwargs.setdefault("offset", StartAt("beginning"))
    return ConsumeOptions(
        [topic],
        broker=client_url(broker),
        group=group,
        commit_interval=0.2,
        broker_settings=dict(FAST_GROUP) if group else {},
        **kwargs,  # type: ignore[arg-type]
    )


def screen_text(pilot: Pilot[None]) -> str:
    app = pilot.app
    return "\n".join(
        "".join(
            segment.text for segment in app.screen._compositor.render_update(full=True).strips[y]
        )  # type: ignore[attr-defined]
        for y in range(app.size.height)
    )


async def test_tail_shows_messages_and_commit_progress(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 30)
    group = f"tail-{topic}"
    session = TailSession.from_options(options(broker, topic, group), buffer_size=1000)
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        log = app.query_one(MessageLog)
        table = app.query_one(PartitionsTable)
        await wait_for(lambda: len(log.rows) == 30, 20, "30 messages in the Messages panel")
        decode = session.buffer.decode
        assert sorted(decode(e).value["order"] for e in log.rows) == list(range(30))
        await wait_for(
            lambda: [p.committed for p in table.rows] == [10, 10, 10],
            20,
            "commits of every partition",
        )
        assert session.status.state is SourceState.CONSUMING
        assert all(p.commits_ok > 0 and p.last_commit_ok for p in table.rows)
        driver = session.app.consumer.driver  # the tail's shorter fetch wait, on each client
        if client == "librdkafka":
            assert driver._config["fetch.wait.max.ms"] == 100  # type: ignore[union-attr]
        else:
            assert driver.client._fetcher._fetch_max_wait_ms == 100  # type: ignore[union-attr]
        await produce(topic, 9, start=30)
        await wait_for(lambda: len(log.rows) == 39, 20, "the new messages, live")
        await wait_for(lambda: [p.committed for p in table.rows] == [13, 13, 13], 20, "new commits")
        await pilot.press("c")
        events = app.query_one(EventLog)
        await wait_for(
            lambda: any("commit now" in line.text for line in events.lines),
            10,
            "commit now's notice",
        )
        await pilot.press("q")
        await wait_for(lambda: session.done, 20, "the session stopped")
    assert await group_committed(broker, group, topic) == {0: 13, 1: 13, 2: 13}


async def test_tail_pause_stops_fetching_and_filter_narrows_the_tail(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 12)
    session = TailSession.from_options(
        options(broker, topic, None, where=["value['order'] % 2 == 0"])
    )
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        log = app.query_one(MessageLog)
        await wait_for(lambda: len(log.rows) == 6, 20, "the even orders")
        assert all(session.buffer.decode(e).value["order"] % 2 == 0 for e in log.rows)
        await pilot.press("p")
        await wait_for(
            lambda: all(p.paused for p in app.query_one(PartitionsTable).rows), 10, "paused"
        )
        assert session.status.state is SourceState.PAUSED
        received = session.buffer.received
        await produce(topic, 6, start=12)
        await pilot.press("p")
        await wait_for(lambda: session.buffer.received == received + 6, 20, "fetching again")
        await wait_for(lambda: len(log.rows) == 9, 10, "the new even orders in the panel")


async def test_unreachable_broker_is_a_state_not_a_crash() -> None:
    dead = f"127.0.0.1:{free_port()}"
    session = TailSession.from_options(
        ConsumeOptions(["nowhere"], broker=dead, broker_settings={"request_timeout_ms": 1000}),
        retry_interval=0.2,
    )
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(120, 40)):
        await wait_for(
            lambda: session.status.state is SourceState.UNREACHABLE, 20, "the unreachable state"
        )
        events = app.query_one(EventLog)
        await wait_for(
            lambda: any("cannot reach" in line.text for line in events.lines), 10, "the notice"
        )
        assert app.is_running


async def test_losing_the_broker_shows_as_unreachable(
    make_broker: Callable[[], AbstractContextManager[Broker]],
) -> None:
    from kconsume.admin import create_topics

    with make_broker() as own:
        await create_topics(own.url, {"lost": 1})
        session = TailSession.from_options(
            ConsumeOptions(["lost"], broker=own.url, broker_settings={"request_timeout_ms": 2000})
        )
        async with session:
            await wait_for(
                lambda: (
                    session.status.state is SourceState.CONSUMING
                    and session.snapshot() is not None
                    and bool(session.snapshot().partitions)
                ),  # type: ignore[union-attr]
                20,
                "consuming",
            )
            own.stop()
            await wait_for(
                lambda: session.status.state is SourceState.UNREACHABLE, 20, "the lost broker"
            )


async def test_run_dashboard_skips_the_blocking_record(
    broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 30)
    group = f"skip-{topic}"
    engine = App(
        broker.url,
        group_id=group,
        start_at=StartAt("beginning"),
        commit_interval=0.1,
        watchdog_interval=0.1,
        commit_livelock_soft_timeout=0.5,
        stop_drain_timeout=0.5,
        **FAST_GROUP,
    )
    release = asyncio.Event()

    @engine.agent(topic, value="json")
    async def enrich(stream):  # type: ignore[no-untyped-def]
        async for event in stream:
            if event.partition == 1 and event.offset == 3:
                await release.wait()  # the stuck handler

    stuck = TP(topic, 1)
    session = TailSession.attach(engine, broker=broker.url, topics=[topic], allow_skip=True)
    app = DashboardApp(session, tz=UTC)
    try:
        async with session, app.run_test(size=(160, 50)) as pilot:

            def blocked() -> bool:
                snapshot = session.snapshot()
                p = snapshot.partition(stuck) if snapshot is not None else None
                return p is not None and p.livelock_warned and p.oldest_inflight == 3

            await wait_for(blocked, 20, "orders[1] blocked at offset 3")
            await pilot.press("b")
            await wait_for(lambda: "held by enrich" in screen_text(pilot), 10, "the blocking view")
            await pilot.press("s")
            await wait_for(lambda: isinstance(app.screen, SkipScreen), 10, "the confirmation")
            assert f"{topic}[1]@3" in screen_text(pilot)
            await pilot.press("y")

            def committed() -> int | None:
                snapshot = session.snapshot()
                p = snapshot.partition(stuck) if snapshot is not None else None
                return p.committed if p is not None else None

            await wait_for(lambda: (committed() or 0) > 3, 20, "the commit past offset 3")
            events = app.query_one(EventLog)
            await wait_for(
                lambda: any(f"skipped {topic}[1]@3" in line.text for line in events.lines),
                10,
                "the MessageSkipped event",
            )
            release.set()
            await pilot.press("escape", "q")  # close the blocking record's view, quit
            await wait_for(lambda: session.done, 20, "the session stopped")
    finally:
        release.set()
    assert (await group_committed(broker, group, topic))[1] == 10


async def test_paused_partitions_keep_their_highwater_and_lag_moving(
    broker: Broker, topic: str, produce: Produce
) -> None:
    """The engine learns the highwater from fetches, and a paused partition is not
    fetched: the session asks the broker for the log ends itself."""
    await produce(topic, 6)
    group = f"tail-{topic}"
    session = TailSession.from_options(options(broker, topic, group))
    session.ends_interval = 0.1
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        table = app.query_one(PartitionsTable)
        await wait_for(
            lambda: [p.committed for p in table.rows] == [2, 2, 2], 20, "everything committed"
        )
        await pilot.press("p")
        await wait_for(lambda: all(p.paused for p in table.rows), 10, "paused")
        for i in range(6, 9):  # one batch each: Tansu lists the end of the last batch
            await produce(topic, 1, start=i)
        await wait_for(
            lambda: [(p.highwater, p.lag) for p in table.rows] == [(3, 1), (3, 1), (3, 1)],
            10,
            "the highwater and lag of the paused partitions",
        )
        assert all(p.paused and p.committed == 2 for p in table.rows)


async def test_after_a_restart_a_partition_with_nothing_new_shows_its_highwater(
    broker: Broker, topic: str, produce: Produce
) -> None:
    """A group that committed everything starts again, paused (as a session that
    reconnects while paused does): nothing is fetched, yet the highwater and lag are
    known at once."""
    await produce(topic, 3, partition=0)
    group = f"tail-{topic}"
    first = TailSession.from_options(options(broker, topic, group))
    async with first:
        await wait_for(
            lambda: (
                (s := first.snapshot()) is not None
                and [p.committed for p in s.partitions][:1] == [3]
            ),
            20,
            "the first run committed everything",
        )
    assert await group_committed(broker, group, topic) == {0: 3, 1: 0, 2: 0}
    for i in (3, 4):  # one batch each: Tansu lists the end of the last batch
        await produce(topic, 1, partition=0, start=i)
    session = TailSession.from_options(options(broker, topic, group))
    session.ends_interval = 0.1
    session.set_paused(True)
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)):
        table = app.query_one(PartitionsTable)
        await wait_for(
            lambda: (
                [(p.committed, p.highwater, p.lag) for p in table.rows]
                == [(3, 5, 2), (0, 0, 0), (0, 0, 0)]
            ),
            20,
            "the highwater of partitions with nothing new",
        )


async def test_a_filter_change_lists_its_errors_once(
    broker: Broker, topic: str, produce: Produce
) -> None:
    """The messages already there are filtered again when the filter changes: their
    errors are the ones shown (three, then only counted), not three more afterwards."""
    await produce(topic, 12)
    session = TailSession.from_options(options(broker, topic, None))
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        await wait_for(lambda: session.buffer.received == 12, 20, "the 12 messages")
        await pilot.press("f", *"value['nosuch'] == 1", "enter")
        events = app.query_one(EventLog)
        await wait_for(
            lambda: any("filter: value" in line.text for line in events.lines), 10, "the filter"
        )
        await produce(topic, 6, start=12)
        await wait_for(lambda: session.buffer.received == 18, 20, "the new messages")
        await wait_for(lambda: session.buffer.filter_errors == 18, 10, "every error counted")
        app.poll()
        await pilot.pause()
        failed = [line.text for line in events.lines if "the filter failed" in line.text]
        assert len(failed) == 3, failed
        assert "further errors are only counted" in failed[-1]


async def test_the_dashboard_writes_payloads_as_consume_does_with_hex_and_save(
    broker: Broker, topic_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binary as ``base64:``, ``(no key)``, ``(tombstone)``; ``x`` shows the stored
    bytes in hex, ``w`` saves the message as consume's JSON."""
    from kconsume.admin import create_topics, producer
    from kconsume.tui.screens import MessageScreen

    await create_topics(broker.url, {topic_name: 1})
    client = producer(broker.url)
    await client.start()
    try:
        await client.send_and_wait(topic_name, b"\xff\x00ab", key=None, partition=0)
        await client.send_and_wait(topic_name, None, key=b"gone", partition=0)
    finally:
        await client.stop()
    monkeypatch.chdir(tmp_path)
    session = TailSession.from_options(options(broker, topic_name, None))
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        log = app.query_one(MessageLog)
        await wait_for(lambda: len(log.rows) == 2, 20, "the two messages")
        text = " ".join(screen_text(pilot).split())
        assert "(no key) base64:/wBhYg==" in text
        assert "gone (tombstone)" in text
        await pilot.press("home", "enter")
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        await pilot.press("x")
        assert "00000000: ff00 6162" in screen_text(pilot)
        await pilot.press("w")
        saved = tmp_path / f"kconsume-{topic_name}-0-0.json"
        await wait_for(saved.exists, 5, "the saved message")
        doc = orjson.loads(saved.read_bytes())
        assert doc["offset"] == 0 and doc["key"] is None
        assert doc["value"] == "/wBhYg==" and doc["value_encoding"] == "base64"
        await pilot.press("y")
        assert orjson.loads(app.clipboard) == doc
        await pilot.press("escape")


async def test_o_jumps_to_an_offset_or_a_time(broker: Broker, topic: str, produce: Produce) -> None:
    """``o``: every partition is read again from the position, as ``-o`` takes it."""
    await produce(topic, 30)  # offsets 0..9 in each partition
    session = TailSession.from_options(options(broker, topic, None))
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        log = app.query_one(MessageLog)
        await wait_for(lambda: len(log.rows) == 30, 20, "every message")
        first = min(e.message.timestamp for e in log.rows)
        await pilot.press("o", *"-2", "enter")
        await wait_for(
            lambda: sorted(e.message.offset for e in session.buffer.view) == [8, 8, 8, 9, 9, 9],
            20,
            "the last two offsets of each partition",
        )
        assert session.status.state is SourceState.CONSUMING
        await pilot.press("o", *"nonsense", "enter")
        assert isinstance(app.screen, JumpScreen)  # the reason shows, nothing moves
        assert "nonsense" in str(app.screen.query_one("#jump-error", Static).content)
        await pilot.press("escape")
        await pilot.press("o", *f"@{first}", "enter")  # the first message's time: all again
        await wait_for(lambda: len(session.buffer.view) == 30, 20, "every message, by time")


async def test_o_with_a_group_says_why_it_cannot_jump(
    broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 3)
    session = TailSession.from_options(options(broker, topic, f"jump-{topic}"))
    app = DashboardApp(session, tz=UTC)
    async with session, app.run_test(size=(160, 50)) as pilot:
        await wait_for(lambda: session.buffer.received == 3, 20, "the messages")
        await pilot.press("o")
        assert not isinstance(app.screen, JumpScreen)
        events = app.query_one(EventLog)
        await wait_for(
            lambda: any("cannot jump with a group" in line.text for line in events.lines),
            5,
            "the reason",
        )
