"""``kconsume topics``: what kcat ``-L`` lists (brokers, topics, partitions, leaders,
replicas, in-sync replicas), with each partition's log bounds and record count.

Read with the groups probe's clients: metadata from the Kafka client's cluster view,
log starts from ListOffsets(earliest), log ends confirmed by a fetch (a bare ListOffsets
is short on Tansu).  Nothing joins a group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from .probe import GroupsProbe

__all__ = ["BrokerInfo", "PartitionInfo", "TopicInfo", "TopicsReport", "read_topics"]


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    partition: int
    leader: int | None
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    start: int
    """The first offset still in the log (ListOffsets earliest)."""
    end: int
    """The highwater: one past the last offset."""

    @property
    def records(self) -> int:
        """Offsets in the log: records, plus the transaction markers and compacted-away
        offsets among them (an upper bound on those topics)."""
        return max(0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    partitions: tuple[PartitionInfo, ...]

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)


@dataclass(frozen=True, slots=True)
class TopicsReport:
    brokers: tuple[BrokerInfo, ...]
    topics: tuple[TopicInfo, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "brokers": [{"id": b.node_id, "host": b.host, "port": b.port} for b in self.brokers],
            "topics": [
                {
                    "topic": t.name,
                    "records": t.records,
                    "partitions": [
                        {
                            "partition": p.partition,
                            "leader": p.leader,
                            "replicas": list(p.replicas),
                            "isr": list(p.isr),
                            "start": p.start,
                            "highwater": p.end,
                            "records": p.records,
                        }
                        for p in t.partitions
                    ],
                }
                for t in self.topics
            ],
        }

    def render(self) -> str:
        """Brokers, then one line per partition and a total per topic, as a table."""
        lines = [
            "brokers: " + ", ".join(f"{b.node_id} at {b.host}:{b.port}" for b in self.brokers or ())
        ]
        if not self.topics:
            lines.append("no topics")
            return "\n".join(lines) + "\n"
        width = max(len("topic"), *(len(t.name) for t in self.topics))
        head = (
            f"{'topic':<{width}}  {'partition':>9}  {'leader':>6}  {'replicas':<10}"
            f"{'isr':<10}{'start':>12}  {'highwater':>12}  {'records':>14}"
        )
        lines.append(head)
        for t in self.topics:
            for p in t.partitions:
                lines.append(
                    f"{t.name:<{width}}  {p.partition:>9}  {_node(p.leader):>6}  "
                    f"{_nodes(p.replicas):<10}{_nodes(p.isr):<10}{p.start:>12}  {p.end:>12}  "
                    f"{p.records:>14,}"
                )
            count = f"{len(t.partitions)} partition{'s' if len(t.partitions) != 1 else ''}"
            lines.append(f"{t.name:<{width}}  {count + ', in all':<67}{t.records:>14,}")
        return "\n".join(lines) + "\n"


def _node(node: int | None) -> str:
    return "-" if node is None or node < 0 else str(node)


def _nodes(nodes: tuple[int, ...]) -> str:
    return ",".join(str(n) for n in nodes) or "-"


async def read_topics(probe: GroupsProbe, topics: Iterable[str] | None = None) -> TopicsReport:
    """Every topic (None: all but internal ones) with its partitions' metadata and bounds."""
    tps = await probe.partitions(topics)
    bounds = await probe.bounds(tps)
    cluster = probe.driver.client._client.cluster
    brokers = tuple(
        BrokerInfo(int(b.nodeId), str(b.host), int(b.port))
        for b in sorted(cluster.brokers(), key=lambda b: b.nodeId)
    )
    by_topic: dict[str, list[PartitionInfo]] = {}
    for tp in tps:
        meta = cluster._partitions.get(tp.topic, {}).get(tp.partition)
        leader = cluster.leader_for_partition(TopicPartition(tp.topic, tp.partition))
        start, end = bounds[tp]
        by_topic.setdefault(tp.topic, []).append(
            PartitionInfo(
                tp.partition,
                leader,
                tuple(getattr(meta, "replicas", ()) or ()),
                tuple(getattr(meta, "isr", ()) or ()),
                start,
                end,
            )
        )
    return TopicsReport(
        brokers, tuple(TopicInfo(name, tuple(parts)) for name, parts in by_topic.items())
    )
