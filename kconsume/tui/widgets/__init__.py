"""The dashboard's panels, one widget per module."""

from .events import EventLog
from .message_log import MessageLog
from .partitions import PartitionsTable
from .search import SearchBar
from .status import StatusBar, StatusView
from .streams import StreamsTable

__all__ = [
    "EventLog",
    "MessageLog",
    "PartitionsTable",
    "SearchBar",
    "StatusBar",
    "StatusView",
    "StreamsTable",
]
