"""The dashboard's screens: message view, help, filter, skip confirmation, groups."""

from .filter import FilterScreen
from .groups import GroupsScreen
from .help import KEYS, HelpScreen
from .jump import JumpScreen
from .message import MessageScreen
from .skip import SkipScreen

__all__ = [
    "KEYS",
    "FilterScreen",
    "GroupsScreen",
    "HelpScreen",
    "JumpScreen",
    "MessageScreen",
    "SkipScreen",
]
