"""kconsume: a Kafka consumer engine you can see into."""

# Registers the avro, protobuf and jsonschema codecs (their libraries load on first use):
# the engine's codec table does not import it, so the two never import each other.
from . import schemas  # noqa: F401

# The names an app author needs, a chosen subset of kconsume.engine's: listed (not
# computed from engine.__all__) so the public API reads in one place, as httpx's does.
from ._version import __version__
from .engine import (
    TP,
    AIOKafkaTransport,
    App,
    BrokerUnreachableError,
    Codec,
    CommitCompleted,
    CommitFailed,
    CommitStarted,
    Conductor,
    Consumer,
    DecodeError,
    EngineEvent,
    EngineSnapshot,
    Event,
    EventBus,
    Fetcher,
    KConsumeError,
    LivelockCleared,
    LivelockWarning,
    Message,
    PartitionsAssigned,
    PartitionSnapshot,
    PartitionsRevoked,
    RebalanceStarted,
    RevokeDrainTimeout,
    Stream,
    StreamSnapshot,
    Transport,
    UnknownTopicError,
)

__all__ = [
    "TP",
    "AIOKafkaTransport",
    "App",
    "BrokerUnreachableError",
    "Codec",
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
    "PartitionsAssigned",
    "PartitionsRevoked",
    "RebalanceStarted",
    "RevokeDrainTimeout",
    "Stream",
    "StreamSnapshot",
    "Transport",
    "UnknownTopicError",
    "__version__",
]
