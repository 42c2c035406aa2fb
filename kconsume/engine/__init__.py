"""The consumer engine: Consumer, Conductor, Streams, commits.  Free of any UI."""

from ..errors import BrokerUnreachableError, KConsumeError, UnknownTopicError
from .app import Agent, App
from .codecs import Codec, CodecError, codec, register_codec
from .conductor import Conductor
from .consumer import Consumer
from .events import (
    BackPressureWarning,
    CommitCompleted,
    CommitFailed,
    CommitFailingWarning,
    CommitStarted,
    DecodeError,
    EngineEvent,
    EventBus,
    FetchStalledWarning,
    HandlerTimedOut,
    LivelockCleared,
    LivelockWarning,
    LoopBlockedWarning,
    MessageSkipped,
    PartitionsAssigned,
    PartitionsRevoked,
    RebalanceStarted,
    RevokeDrainTimeout,
    StopLeftUncommitted,
    StopStarted,
    StreamStalledWarning,
    WatchdogCleared,
    WatchdogWarning,
)
from .fetcher import Fetcher
from .offsets import PartitionState, Range
from .positions import StartAt
from .snapshot import EngineSnapshot, PartitionSnapshot, StreamSnapshot
from .stream import Stream
from .transport.aiokafka import AIOKafkaTransport
from .transport.base import Transport
from .types import TP, Event, Message, Record
from .watchdog import Watchdog

__all__ = [
    "TP",
    "AIOKafkaTransport",
    "Agent",
    "App",
    "BackPressureWarning",
    "BrokerUnreachableError",
    "Codec",
    "CodecError",
    "CommitCompleted",
    "CommitFailed",
    "CommitFailingWarning",
    "CommitStarted",
    "Conductor",
    "Consumer",
    "DecodeError",
    "EngineEvent",
    "EngineSnapshot",
    "Event",
    "EventBus",
    "FetchStalledWarning",
    "Fetcher",
    "HandlerTimedOut",
    "KConsumeError",
    "LivelockCleared",
    "LivelockWarning",
    "LoopBlockedWarning",
    "Message",
    "MessageSkipped",
    "PartitionSnapshot",
    "PartitionState",
    "PartitionsAssigned",
    "PartitionsRevoked",
    "Range",
    "RebalanceStarted",
    "Record",
    "RevokeDrainTimeout",
    "StartAt",
    "StopLeftUncommitted",
    "StopStarted",
    "Stream",
    "StreamSnapshot",
    "StreamStalledWarning",
    "Transport",
    "UnknownTopicError",
    "Watchdog",
    "WatchdogCleared",
    "WatchdogWarning",
    "codec",
    "register_codec",
]
