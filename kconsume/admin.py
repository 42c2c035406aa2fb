"""Small Kafka admin and producer helpers for the CLI, the demo and the tests."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from .engine.transport.aiokafka import (
    PASSTHROUGH,
    BrokerUnreachableError,
    bootstrap_servers,
    client_settings,
)
from .engine.transport.diagnose import connect_failure

__all__ = ["create_topics", "producer"]


async def create_topics(
    url: str, topics: Mapping[str, int], *, exist_ok: bool = True, **settings: Any
) -> None:
    """Create ``{name: partitions}`` topics (replication factor 1)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers(url), **client_settings(settings)
    )
    try:
        await admin.start()
    except (KafkaConnectionError, KeyError) as exc:  # KeyError: a refused SCRAM login
        with contextlib.suppress(Exception):
            await admin.close()
        message = await connect_failure(exc, bootstrap_servers(url), client_settings(settings))
        if message is None:
            raise
        raise BrokerUnreachableError(message) from None
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(name, num_partitions=n, replication_factor=1)
            for name, n in topics.items()
            if name not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                if not exist_ok:
                    raise
    finally:
        await admin.close()


def producer(url: str, **settings: Any) -> AIOKafkaProducer:
    """An (unstarted) aiokafka producer for ``url``.

    Security settings are read as for consumers (:func:`client_settings`); anything
    else (``linger_ms``, ``max_request_size``, ...) goes to aiokafka as it is.
    """
    security = client_settings(settings)
    rest = {k: v for k, v in settings.items() if k not in PASSTHROUGH and not k.startswith("ssl_")}
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url), **security, **rest)
