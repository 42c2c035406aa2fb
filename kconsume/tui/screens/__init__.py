"""The dashboard's dialogs: the message view, help, the filter."""

from .filter import FilterScreen
from .help import KEYS, HelpScreen
from .message import MessageScreen

__all__ = ["KEYS", "FilterScreen", "HelpScreen", "MessageScreen"]
