"""The dashboard's dialogs: the message view, help, the filter, the skip confirmation."""

from .filter import FilterScreen
from .help import KEYS, HelpScreen
from .message import MessageScreen
from .skip import SkipScreen

__all__ = ["KEYS", "FilterScreen", "HelpScreen", "MessageScreen", "SkipScreen"]
