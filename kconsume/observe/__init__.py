"""The observe endpoint and ``kconsume attach``: a running engine seen from outside.

``App(observe="127.0.0.1:9464")`` (or ``--observe``) runs an :class:`ObserveServer`
beside the engine: the snapshot and the typed events the dashboard reads, over HTTP
(:mod:`.wire`), and Prometheus metrics (:mod:`.metrics`).  ``kconsume attach`` reads
them back into the same types through :class:`RemoteSource`, a
:class:`~kconsume.tail.source.DashboardSource`.  See docs/attach.md.
"""

from .server import ObserveServer, app_status
from .wire import WireError, decode_event, decode_snapshot, encode_event, encode_snapshot

__all__ = [
    "ObserveServer",
    "WireError",
    "app_status",
    "decode_event",
    "decode_snapshot",
    "encode_event",
    "encode_snapshot",
]
