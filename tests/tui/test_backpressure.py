"""Back-pressure is a state with a reason, and the buffer cell is never cut (issue 15)."""

from __future__ import annotations

from kconsume.tail.source import SourceState
from kconsume.tui.widgets import StreamsTable
from tests.tui.scripted_source import ScriptedSource

from .conftest import SIZE, dashboard, settle, text_of


def rendered(table: StreamsTable) -> str:
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


async def test_a_full_buffer_shows_back_pressure_with_its_reason_and_an_uncut_cell() -> None:
    source = ScriptedSource()
    source.backpressure = True
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, polls=2)
        assert source.status.state is SourceState.BACKPRESSURE
        state = text_of(app, "#status-state")
        assert "BACK-PRESSURE" in state
        assert "billing full (3,596/4,096): orders[0,1,2,3] paused" in state
        assert "msg/s" in state and "delivered" in state  # the reason leaves room for them
        streams = rendered(app.query_one(StreamsTable))
        assert "3,596/4,096 P" in streams and "4,09…" not in streams
        source.backpressure = False
        await settle(pilot, polls=2)
        assert "CONSUMING" in text_of(app, "#status-state")
