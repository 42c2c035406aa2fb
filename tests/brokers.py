"""The broker the broker-facing tests run against, chosen once per run.

``KCONSUME_TEST_BROKER=tansu`` (the default: the embedded broker, Python only) or
``kafka`` (Apache Kafka 4.x, the reference broker, ``make test-kafka``).  The same
test code runs on both; :data:`BROKER_KIND` tells which one this run has.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Protocol

from kconsume.broker import EmbeddedBroker

__all__ = [
    "BROKER_KIND",
    "BROKER_KINDS",
    "CLIENTS",
    "Broker",
    "client_url",
    "current_client",
    "new_broker",
]

#: Which broker the broker-facing tests run against: ``tansu`` (the default, Python
#: only) or ``kafka`` (Apache Kafka 4.x, the reference broker: ``make test-kafka``).
BROKER_KIND = os.environ.get("KCONSUME_TEST_BROKER", "tansu").strip().lower() or "tansu"
BROKER_KINDS = ("tansu", "kafka")


#: The Kafka clients the transport-facing tests run on (the ``client`` fixture):
#: ``KCONSUME_TEST_CLIENTS=librdkafka`` (comma-separated) runs them on those alone.
CLIENTS = tuple(
    name.strip()
    for name in os.environ.get("KCONSUME_TEST_CLIENTS", "aiokafka,librdkafka").split(",")
    if name.strip()
)


class Broker(Protocol):
    """What tests use of a broker: both :class:`EmbeddedBroker` (Tansu) and
    :class:`tests.apache_kafka.KafkaBroker` (Apache Kafka) have it."""

    host: str
    port: int

    @property
    def url(self) -> str: ...
    @property
    def bootstrap(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> Broker: ...
    def stop(self) -> None: ...
    def log_text(self, limit: int = ...) -> str: ...
    def __enter__(self) -> Broker: ...
    def __exit__(self, *exc: object) -> None: ...


def new_broker() -> AbstractContextManager[Broker]:
    """An unstarted broker of the kind this run tests against (``with new_broker() as b``)."""
    if BROKER_KIND == "kafka":
        from tests.apache_kafka import KafkaBroker

        return KafkaBroker()
    return EmbeddedBroker()


def current_client() -> str:
    """The client of the running test: ``KCONSUME_CLIENT``, which the ``client`` fixture
    sets (and ``kconsume consume``/``tail`` read as ``--client``); else aiokafka."""
    return os.environ.get("KCONSUME_CLIENT", "aiokafka")


def client_url(broker: Broker, client: str | None = None) -> str:
    """The App URL of ``broker`` on ``client`` (default: :func:`current_client`)."""
    if (client or current_client()) == "librdkafka":
        return f"rdkafka://{broker.bootstrap}"
    return broker.url
