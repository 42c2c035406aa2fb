"""Small Kafka admin and producer helpers for the CLI, the demo and the tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
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
            await _wait_for_leaders(admin, {t.name: t.num_partitions for t in new})
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, topics: Mapping[str, int], timeout: float = 10.0
) -> None:
    """Wait until the metadata shows a leader for every partition of ``topics``.

    CreateTopics answers when the controller has the topic; a broker may learn of it
    a moment later (Apache Kafka does, Tansu does not), and a producer that comes
    first gets ``NOT_LEADER_OR_FOLLOWER`` and retries.  Best effort: returns after
    ``timeout`` whatever the metadata says.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        metadata = await admin._client.fetch_all_metadata()
        if all(
            len(metadata.partitions_for_topic(name) or ()) >= n
            and all(_led(metadata.leader_for_partition(TopicPartition(name, p))) for p in range(n))
            for name, n in topics.items()
        ):
            return
        await asyncio.sleep(0.05)


def producer(url: str, **settings: Any) -> AIOKafkaProducer:
    """An (unstarted) aiokafka producer for ``url``.

    Security settings are read as for consumers (:func:`client_settings`); anything
    else (``linger_ms``, ``max_request_size``, ...) goes to aiokafka as it is.
    """
    security = client_settings(settings)
    rest = {k: v for k, v in settings.items() if k not in PASSTHROUGH and not k.startswith("ssl_")}
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url), **security, **rest)


def _led(leader: int | None) -> bool:
    """A partition leader from the metadata: None is unknown, -1 is none yet."""
    return leader is not None and leader >= 0
