"""The live dashboard (Textual).  It reads a :class:`kconsume.tail.DashboardSource`."""

from .app import DashboardApp
from .themes import available_themes, resolve_theme

__all__ = ["DashboardApp", "available_themes", "resolve_theme"]
