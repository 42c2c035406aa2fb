"""Prometheus metrics of a running engine, read from its snapshot at scrape time.

:class:`EngineCollector` is a ``prometheus_client`` collector: each scrape of
``/metrics`` takes one ``App.snapshot()`` and turns it into metric families, so the
engine does no metrics work per message and none at all while nobody scrapes.  The
only state kept between scrapes is :class:`RateMeter`'s last two samples of the
delivered count, taken once a second by the observe server's tick.

Labels: ``group`` (empty without a group), ``topic`` and ``partition`` for partition
metrics, ``stream`` for stream metrics, ``cause`` for watchdog warnings.  Offsets follow
the engine convention (the next offset to consume).  The metric names are listed in
docs/attach.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..engine.snapshot import EngineSnapshot

if TYPE_CHECKING:
    from ..engine.app import App

__all__ = ["WATCHDOG_CAUSES", "EngineCollector", "RateMeter"]

#: Every cause the watchdog and the consumer report (``WatchdogWarning.cause``).
WATCHDOG_CAUSES = (
    "head-of-line",
    "stream-not-started",
    "stream-slow",
    "loop-blocked",
    "fetch-stalled",
    "commit-failing",
    "rebalance-drain-stuck",
)

PARTITION = ("group", "topic", "partition")
STREAM = ("group", "stream")


class RateMeter:
    """Messages per second over the last tick, from the engine's delivered count.

    Caller: the observe server's tick (:meth:`sample`, once a second) and the collector
    (:attr:`rate`).  Reads one integer of the consumer; changes nothing in the engine.
    """

    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read
        self._last: tuple[float, int] | None = None
        self.rate = 0.0

    def sample(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        count = self._read()
        if self._last is not None and now > self._last[0]:
            self.rate = max(0.0, (count - self._last[1]) / (now - self._last[0]))
        self._last = (now, count)


class EngineCollector(Collector):
    """The engine's metrics, built from one snapshot per scrape.

    ``filter_errors`` returns, per stream name, the errors of filters that run outside
    the engine (``--where``, ``--script``); the engine's own prefilter errors are added.
    ``more_warnings`` returns warnings active outside the watchdog's own table (a
    rebalance drain that timed out), as (cause, subject) pairs.
    """

    def __init__(
        self,
        app: App,
        rate: RateMeter,
        filter_errors: Callable[[], Mapping[str, int]] | None = None,
        more_warnings: Callable[[], Iterable[tuple[str, str]]] | None = None,
    ) -> None:
        self.app = app
        self.rate = rate
        self.filter_errors = filter_errors
        self.more_warnings = more_warnings

    def collect(self) -> Iterator[Metric]:
        app = self.app
        snapshot = app.snapshot()
        group = snapshot.group_id or ""
        yield from self._partitions(snapshot, group)
        yield from self._streams(snapshot, group)
        warnings = GaugeMetricFamily(
            "kconsume_watchdog_warnings_active",
            "Watchdog warnings raised and not cleared, by cause.",
            labels=("group", "cause"),
        )
        active = dict.fromkeys(WATCHDOG_CAUSES, 0)
        more = self.more_warnings() if self.more_warnings is not None else ()
        for cause, _subject in [*app.watchdog.active, *more]:
            active[cause] = active.get(cause, 0) + 1
        for cause, count in active.items():
            warnings.add_metric((group, cause), count)
        yield warnings
        delivered = CounterMetricFamily(
            "kconsume_delivered", "Messages the consumer delivered.", labels=("group",)
        )
        delivered.add_metric((group,), snapshot.delivered_total)
        yield delivered
        rate = GaugeMetricFamily(
            "kconsume_messages_per_second",
            "Messages delivered per second, over the last second.",
            labels=("group",),
        )
        rate.add_metric((group,), self.rate.rate)
        yield rate
        rebalancing = GaugeMetricFamily(
            "kconsume_rebalancing", "1 while the group rebalances.", labels=("group",)
        )
        rebalancing.add_metric((group,), 1.0 if snapshot.rebalancing else 0.0)
        yield rebalancing

    def _partitions(self, snapshot: EngineSnapshot, group: str) -> Iterator[Metric]:
        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=PARTITION)

        committed = gauge("kconsume_committed_offset", "The group's committed offset.")
        delivered = gauge("kconsume_delivered_end_offset", "One past the last delivered offset.")
        highwater = gauge("kconsume_highwater_offset", "The partition's log end offset.")
        lag = gauge("kconsume_lag_messages", "highwater - committed.")
        inflight = gauge("kconsume_inflight_messages", "Delivered messages not yet done.")
        oldest = gauge(
            "kconsume_oldest_inflight_age_seconds",
            "Seconds since the oldest in-flight message (the one holding the commit) arrived.",
        )
        last_commit = gauge(
            "kconsume_last_commit_age_seconds", "Seconds since the last commit attempt."
        )
        stalled = gauge(
            "kconsume_commit_stalled_seconds",
            "Seconds the commit has not moved while work is pending (0: moving).",
        )
        commits = CounterMetricFamily(
            "kconsume_commits",
            "Commits of the partition, by result (ok, failed) since it was assigned.",
            labels=(*PARTITION, "result"),
        )
        for p in snapshot.partitions:
            labels = (group, p.tp.topic, str(p.tp.partition))
            for family, value in (
                (committed, p.committed),
                (delivered, p.delivered_end),
                (highwater, p.highwater),
                (lag, p.lag),
                (last_commit, p.last_commit_age),
            ):
                if value is not None:
                    family.add_metric(labels, value)
            inflight.add_metric(labels, p.inflight)
            oldest.add_metric(labels, p.oldest_inflight_age or 0.0)
            stalled.add_metric(labels, p.stalled_for or 0.0)
            commits.add_metric((*labels, "ok"), p.commits_ok)
            commits.add_metric((*labels, "failed"), p.commits_failed)
        yield from (committed, delivered, highwater, lag, inflight, oldest, last_commit, stalled)
        yield commits

    def _streams(self, snapshot: EngineSnapshot, group: str) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "kconsume_stream_buffer_messages",
            "Events waiting in the stream's buffer.",
            labels=STREAM,
        )
        fill = GaugeMetricFamily(
            "kconsume_stream_buffer_fill_ratio",
            "Buffer depth / buffer size (1: full, its partitions pause).",
            labels=STREAM,
        )
        processed = CounterMetricFamily(
            "kconsume_stream_processed", "Events the stream's reader finished.", labels=STREAM
        )
        decode = CounterMetricFamily(
            "kconsume_decode_errors",
            "Messages skipped because the stream's codecs could not decode them.",
            labels=STREAM,
        )
        filters = CounterMetricFamily(
            "kconsume_filter_errors",
            "Filter, prefilter and --script calls that raised (the message is skipped).",
            labels=STREAM,
        )
        current = GaugeMetricFamily(
            "kconsume_stream_current_seconds",
            "Seconds the stream's reader has been on its current message (0: idle).",
            labels=STREAM,
        )
        outside = dict(self.filter_errors()) if self.filter_errors is not None else {}
        prefilter = {s.name: s.prefilter_errors for s in self.app.conductor.streams}
        for s in snapshot.streams:
            labels = (group, s.name)
            depth.add_metric(labels, s.buffer_depth)
            fill.add_metric(labels, s.buffer_depth / s.buffer_maxsize if s.buffer_maxsize else 0.0)
            processed.add_metric(labels, s.processed)
            decode.add_metric(labels, s.decode_errors)
            filters.add_metric(labels, prefilter.get(s.name, 0) + outside.get(s.name, 0))
            current.add_metric(labels, s.current_for or 0.0)
        yield from (depth, fill, processed, decode, filters, current)
