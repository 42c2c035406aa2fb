"""The consumer engine: Consumer, Conductor, Streams, commits.  Free of any UI."""

from .app import Agent, App
from .codecs import Codec, CodecError, codec, register_codec
from .conductor import Conductor
from .consumer import Consumer
from .events import (
    CommitCompleted,
    CommitFailed,
    CommitStarted,
    DecodeError,
    EngineEvent,
    EventBus,
    LivelockCleared,
    LivelockWarning,
    PartitionsAssigned,
    PartitionsRevoked,
    RebalanceStarted,
    RevokeDrainTimeout,
)
from .fetcher import Fetcher
from .offsets import PartitionState, Range
from .positions import StartAt
from .snapshot import EngineSnapshot, PartitionSnapshot, StreamSnapshot
from .stream import Stream
from .transport.aiokafka import AIOKafkaTransport, BrokerUnreachableError
from .transport.base import KConsumeError, Transport, UnknownTopicError
from .types import TP, Event, Message, Record

__all__ = [
    "TP",
    "AIOKafkaTransport",
    "Agent",
    "App",
    "BrokerUnreachableError",
    "Codec",
    "CodecError",
    "CommitCompleted",
    "CommitFailed",
    "CommitStarted",
    "Conductor",
    "Consumer",
    "DecodeError",
    "EngineEvent",
    "EngineSnapshot",
    "Event",
    "EventBus",
    "Fetcher",
    "KConsumeError",
    "LivelockCleared",
    "LivelockWarning",
    "Message",
    "PartitionSnapshot",
    "PartitionState",
    "PartitionsAssigned",
    "PartitionsRevoked",
    "Range",
    "RebalanceStarted",
    "Record",
    "RevokeDrainTimeout",
    "StartAt",
    "Stream",
    "StreamSnapshot",
    "Transport",
    "UnknownTopicError",
    "codec",
    "register_codec",
]
