"""``kconsume groups --watch``: the groups screen as an app of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App

from ..groups.monitor import GroupsMonitor, GroupsSource
from .screens.groups import GroupsScreen
from .themes import DEFAULT_THEME, base_theme, resolve_theme

__all__ = ["GroupsApp", "run_groups_dashboard"]


class GroupsApp(App[None]):
    """Every consumer group, live; ``q`` or ``esc`` quits."""

    TITLE = "kconsume groups"
    BINDINGS = [("q", "quit", "Quit")]  # noqa: RUF012 (Textual's own convention)

    def __init__(
        self,
        source: GroupsSource,
        *,
        theme: str | Path = DEFAULT_THEME,
        auto_refresh: bool = True,
    ) -> None:
        self.theme_file = resolve_theme(theme)
        layout = Path(__file__).with_name("dashboard.tcss")
        super().__init__(css_path=[layout, self.theme_file])
        self.source = source
        self.refresh_groups = auto_refresh
        self.theme = base_theme(self.theme_file)

    def on_mount(self) -> None:
        self.push_screen(
            GroupsScreen(self.source, standalone=True, auto_refresh=self.refresh_groups)
        )


def run_groups_dashboard(
    url: str,
    settings: dict[str, Any],
    *,
    interval: float,
    window: int,
    allowed_lag: int,
    theme: str | Path = DEFAULT_THEME,
) -> None:
    source = GroupsMonitor(url, settings, interval=interval, window=window, allowed_lag=allowed_lag)
    GroupsApp(source, theme=theme).run()
