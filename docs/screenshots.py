"""Take the SVG screenshots in docs/images/ from the real demo (``make docs-screenshots``).

Runs ``kconsume demo`` (embedded broker, sample orders, the audit and billing
streams) under the dashboard with Textual's headless driver, waits until billing has
blocked a commit, then saves the whole screen in both themes, each panel on its own,
the message view of the blocking message, the filter dialog and the help.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from textual.pilot import Pilot

from kconsume.demo.run import DemoSettings, demo_app
from kconsume.tail import TailSession
from kconsume.tui import DashboardApp
from kconsume.tui.app import PANELS
from kconsume.tui.widgets import EventLog, MessageLog

OUT = Path(__file__).parent / "images"
WIDTH, HEIGHT = 160, 50
#: Terminal height that fits each panel on its own (with the footer).
PANEL_HEIGHTS = {1: 5, 2: 8, 3: 7, 4: 18, 5: 10}


async def until(pilot: Pilot[None], condition: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        await pilot.pause(0.2)


def save(app: DashboardApp, name: str) -> None:
    path = OUT / f"{name}.svg"
    path.write_text(app.export_screenshot(title=f"kconsume demo: {name}"))
    print(f"wrote {path}", file=sys.stderr)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    settings = DemoSettings()
    async with demo_app(settings) as run:
        session = TailSession.attach(
            run.app, broker=run.broker_url, topics=[settings.topic], value_format="json"
        )
        app = DashboardApp(session)
        async with session, app.run_test(size=(WIDTH, HEIGHT)) as pilot:
            events = app.query_one(EventLog)

            def blocked_again() -> bool:
                """A commit blocked, freed, and blocked again: a story in the Events panel."""
                snapshot = app.last_snapshot
                freed = any("moves again" in line.text for line in events.lines)
                return (
                    freed
                    and snapshot is not None
                    and any(p.livelock_warned for p in snapshot.partitions)
                )

            await until(pilot, blocked_again, "a commit blocked a second time")
            await pilot.pause(1.0)  # a few more frames of the sparkline
            save(app, "dashboard")
            app.use_theme("light")
            await pilot.pause()
            save(app, "dashboard-light")
            app.use_theme("dark")
            for number in PANELS:
                for other in PANELS:
                    panel = app.query_one(f"#{PANELS[other][0]}")
                    panel.display = other == number
                    panel.styles.max_height = "100%"  # alone, a panel may take the screen
                await pilot.resize_terminal(WIDTH, PANEL_HEIGHTS[number])
                await pilot.pause(0.3)
                save(app, f"panel-{PANELS[number][1].lower()}")
            for panel_id, _ in PANELS.values():
                panel = app.query_one(f"#{panel_id}")
                panel.display = True
                panel.styles.clear_rule("max_height")
            await pilot.resize_terminal(WIDTH, HEIGHT)
            snapshot = app.last_snapshot
            assert snapshot is not None
            stuck = next(p for p in snapshot.partitions if p.livelock_warned)
            log = app.query_one(MessageLog)
            index = next(
                i
                for i, e in enumerate(log.rows)
                if e.message.tp == stuck.tp and e.message.offset == stuck.oldest_inflight
            )
            log.move_cursor(index)
            await pilot.press("enter")
            await pilot.pause(0.5)
            save(app, "message")
            await pilot.press("escape", "f", *"value['total'] >", "enter")
            await pilot.pause(0.3)
            save(app, "filter")
            await pilot.press("escape", "question_mark")
            await pilot.pause(0.3)
            save(app, "help")
            await pilot.press("escape")
            await session.stop()


if __name__ == "__main__":
    asyncio.run(main())
