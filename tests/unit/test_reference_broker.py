"""The reference broker's own helpers (tests/apache_kafka), without starting Kafka."""

from __future__ import annotations

from tests.apache_kafka import random_cluster_id


def test_a_cluster_id_never_looks_like_an_option() -> None:
    """kafka-storage's command line took an id starting with "-" for an option."""
    ids = [random_cluster_id() for _ in range(2000)]
    assert not any(cluster_id.startswith("-") for cluster_id in ids)
    assert all(len(cluster_id) == 22 for cluster_id in ids)
