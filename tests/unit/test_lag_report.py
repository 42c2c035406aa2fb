"""The lag report over a window of group samples, and member assignments (no broker)."""

from __future__ import annotations

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from kconsume.engine.types import TP
from kconsume.groups.lag import LagWindow, render_groups, render_lag
from kconsume.groups.probe import (
    GroupInfo,
    GroupSample,
    MemberInfo,
    PartitionSample,
    decode_assignment,
)
from kconsume.groups.verdict import GroupVerdict, Sample

T0, T1 = TP("orders", 0), TP("orders", 1)


def assignment(*tps: TP) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return bytes(ConsumerProtocolMemberAssignment(0, sorted(by_topic.items()), b"").encode())


def test_decode_assignment() -> None:
    assert decode_assignment(assignment(T1, T0, TP("other", 3))) == (T0, T1, TP("other", 3))
    assert decode_assignment(b"") is None
    assert decode_assignment(b"\x00") is None  # not the consumer protocol


def group_sample(
    at: float, offsets: dict[TP, int | None], ends: dict[TP, tuple[int, int]], info: GroupInfo
) -> GroupSample:
    owners = info.owners()
    return GroupSample(
        at,
        info,
        {
            tp: PartitionSample(
                tp, Sample(at, offsets[tp], *ends[tp], owned=tp in owners), owners.get(tp), None
            )
            for tp in offsets
        },
    )


def test_below_the_log_start_is_said_and_not_counted_as_phantom_lag() -> None:
    info = GroupInfo("billing", "Empty", ())
    window = LagWindow("billing", window=3)
    for i in range(3):
        report = window.add(
            group_sample(float(i), {T0: 5, T1: None}, {T0: (100, 120), T1: (0, 7)}, info)
        )
    doc = report.to_json()
    p0, p1 = doc["partitions"]
    assert p0["lag"] == 20 and p0["below_log_start"] is True
    assert p0["note"] == (
        "committed offset 5 is below the log start 100 (retention deleted those records): "
        "lag counted from the log start"
    )
    assert p0["verdict"] == "STOP"  # nobody commits, lag remains
    assert p1["committed"] is None and p1["verdict"] is None and p1["note"] == "no committed offset"
    assert doc["total_lag"] == 20 and doc["verdict"] == "ERR"
    text = render_lag(report)
    assert "orders[0]: STOP: committed offset 5 is below the log start 100" in text
    assert "orders[1]: no verdict: no committed offset" in text


def test_owners_come_from_the_assignments() -> None:
    a = MemberInfo("m-1", "billing-a", "/10.0.0.1", (T0,))
    b = MemberInfo("m-2", "billing-b", "/10.0.0.2", (T1,))
    info = GroupInfo("billing", "Stable", (a, b))
    window = LagWindow("billing", window=2)
    window.add(group_sample(0.0, {T0: 3, T1: 9}, {T0: (0, 10), T1: (0, 10)}, info))
    report = window.add(group_sample(1.0, {T0: 6, T1: 10}, {T0: (0, 10), T1: (0, 10)}, info))
    assert [p.owner for p in report.partitions] == ["billing-a@10.0.0.1", "billing-b@10.0.0.2"]
    assert report.verdict is GroupVerdict.OK
    assert "billing-a@10.0.0.1" in render_lag(report)
    assert "OWNER ?" not in render_lag(report)
    assert render_groups([report]).splitlines()[1].split()[:5] == [
        "billing",
        "Stable",
        "2",
        "orders",
        "4",
    ]


def test_unknown_group_is_notfound() -> None:
    window = LagWindow("ghost", window=2)
    report = window.add(GroupSample(0.0, GroupInfo("ghost", "Dead", ()), {}))
    assert report.verdict is GroupVerdict.NOTFOUND
