"""``kconsume attach``: the dashboard over a RemoteSource fed a recorded event stream.

The recording (data/attach.ndjson, made by data/record_attach.py) is what an observe
endpoint sent: ``/info``, the events, ``/snapshot`` bodies.  No network, no broker.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
import pytest
from textual.pilot import Pilot

from kconsume.engine.types import TP
from kconsume.observe.remote import RemoteSource
from kconsume.tail import SourceState
from kconsume.tui import DashboardApp
from kconsume.tui.screens import MessageScreen, SkipScreen
from kconsume.tui.widgets import PartitionsTable

from .conftest import SIZE, text_of
from .test_bindings import events_text, until
from .test_blocking import notices

RECORDING = Path(__file__).parent / "data" / "attach.ndjson"
ADDRESS = "127.0.0.1:9464"


def replay(source: RemoteSource, app: DashboardApp | None = None) -> None:
    """Feed the recording to ``source``, polling ``app`` after each snapshot."""
    for line in RECORDING.read_bytes().splitlines():
        item: dict[str, Any] = orjson.loads(line)
        if "info" in item:
            source.apply_info(item["info"])
        elif "event" in item:
            assert source.apply_event_line(orjson.dumps(item["event"]))
        else:
            source.apply_snapshot(item["snapshot"])
            if app is not None:
                app.poll()


@pytest.fixture
def remote() -> RemoteSource:
    return RemoteSource(ADDRESS)


def attached(source: RemoteSource) -> DashboardApp:
    return DashboardApp(source, tz=UTC, poll_interval=None)


async def replayed(pilot: Pilot[None], source: RemoteSource) -> None:
    app = pilot.app
    assert isinstance(app, DashboardApp)
    replay(source, app)
    await pilot.pause()


async def test_the_recording_shows_what_the_engine_showed(remote: RemoteSource) -> None:
    app = attached(remote)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot, remote)
        assert remote.topics == ("orders",) and remote.group == "kconsume-demo"
        status = text_of(app, "#status-state")
        assert "CONSUMING" in status and f"attached to {ADDRESS}, read-only" in status
        assert "kafka://127.0.0.1:9092" in text_of(app, "#status-group")
        table = app.query_one(PartitionsTable)
        assert [row.tp.partition for row in table.rows] == [0, 1, 2, 3]
        assert table.rows[2].livelock_warned and table.rows[2].oldest_inflight == 1180
        events = events_text(app)
        assert "head-of-line: offset 1180 blocks the commit of orders[2]" in events


async def test_read_only_keys_ask_nothing_of_the_engine(remote: RemoteSource) -> None:
    app = attached(remote)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot, remote)
        await pilot.press("p")
        await until(
            pilot, lambda: "read-only: attach with --control to pause" in events_text(app), "p"
        )
        await pilot.press("c")
        await until(pilot, lambda: "read-only: nothing committed" in notices(app), "c's notice")
        await pilot.press("s")
        assert not isinstance(app.screen, SkipScreen)
        await until(pilot, lambda: "only available under kconsume run" in notices(app), "s")
        assert not remote.paused and not remote._tasks  # nothing was sent


async def test_b_opens_the_blocking_offset_without_its_payload(remote: RemoteSource) -> None:
    app = attached(remote)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot, remote)
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        assert screen.event.message.tp == TP("orders", 2)
        assert screen.event.message.offset == 1180 and screen.event.value is None
        text = text_of(app, "#message-blocking")
        assert "BLOCKING RECORD: orders[2]@1180" in text and "held by billing" in text


async def test_control_needs_an_endpoint_with_a_token() -> None:
    source = RemoteSource(ADDRESS, control=True)
    app = attached(source)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot, source)  # the recorded endpoint has no token
        await pilot.press("p")
        await until(pilot, lambda: "accepts no controls" in events_text(app), "the notice")
        assert "read-only" in text_of(app, "#status-state")


async def test_a_lost_endpoint_shows_why(remote: RemoteSource) -> None:
    app = attached(remote)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot, remote)
        remote.end(f"lost {ADDRESS}: Connection refused; the observed process is gone")
        app.poll()
        await pilot.pause()
        assert remote.status.state is SourceState.FAILED
        assert "the observed process is gone" in text_of(app, "#status-state")
        assert "the observed process is gone" in events_text(app)


def test_the_end_line_means_the_engine_stopped(remote: RemoteSource) -> None:
    assert not remote.apply_event_line(b'{"type":"end"}\n')
    remote.end("the observed consumer stopped")
    assert remote.status.state is SourceState.STOPPED and remote.ended


def test_events_replayed_after_a_reconnection_are_not_shown_twice(remote: RemoteSource) -> None:
    seen: list[object] = []
    remote.subscribe(seen.append)
    replay(remote)
    first = len(seen)
    replay(remote)
    assert first > 0 and len(seen) == first


def test_status_line_snapshot(snap_compare: Any) -> None:
    """The status line of an attached dashboard (the other panels hidden)."""

    async def run_before(pilot: Pilot[None]) -> None:
        await replayed(pilot, source)
        for key in ("2", "3", "4", "5"):
            await pilot.press(key)

    source = RemoteSource(ADDRESS)
    assert snap_compare(attached(source), terminal_size=(160, 6), run_before=run_before)
