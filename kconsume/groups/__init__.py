"""Consumer groups from outside: ``peek`` around and ``commit`` a group's offsets.

Nothing here joins a group: offsets are read and written by a client that never
subscribes, records are read by a reader with no group, members are seen through
DescribeGroups.
"""

from .commit import PartitionPlan, plan, plan_for, render
from .peek import PeekedPartition, PeekWriter, peek, select
from .selection import CommitTo, Selection
from .session import (
    GroupActiveError,
    GroupSession,
    GroupState,
    Member,
    active_message,
    open_session,
)

__all__ = [
    "CommitTo",
    "GroupActiveError",
    "GroupSession",
    "GroupState",
    "Member",
    "PartitionPlan",
    "PeekWriter",
    "PeekedPartition",
    "Selection",
    "active_message",
    "open_session",
    "peek",
    "plan",
    "plan_for",
    "render",
    "select",
]
