"""Memory over a long run with one message held: the engine stays O(in flight).

Run with ``make bench-long`` (or ``.venv/bin/python bench/long_run.py --records N``).

One embedded broker; confluent-kafka (librdkafka) writes N small records over P
partitions with lz4, as ``bench/exact_end.py`` does.  Then one App (a group, commits
every second) reads them through one stream, and the reader holds the very first
message it gets for the whole run (``Consumer.hold``), so that partition's commit
cannot pass it and every later message of the partition is in the acked ranges above
it.  The script samples the process's peak RSS (``ru_maxrss``) after 10% of the records
and at the end, and prints both.  It exits 1 unless they differ by less than
``--limit-mb`` (20 MB), every record was read, and the held partition's commit stayed
at the held offset while the others reached their ends.  Not part of ``make test``: it
takes a minute or two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import time
import uuid
from dataclasses import dataclass

from exact_end import produce  # the same librdkafka topic as make bench-exact

from kconsume import App, Message
from kconsume.broker import EmbeddedBroker
from kconsume.engine.types import TP


def peak_rss_mb() -> float:
    """The process's peak resident set so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(slots=True)
class Result:
    seen: int
    seconds: float
    rss_at_10: float
    rss_at_100: float
    held: Message
    committed: dict[TP, int | None]
    inflight: dict[TP, int]


async def read(url: str, topic: str, records: int) -> Result:
    app = App(
        url,
        group_id=f"long-run-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        commit_interval=1.0,
        # One stuck message is the point of the run: keep the warnings quiet.
        commit_livelock_soft_timeout=3600,
        stream_processing_timeout=3600,
    )
    stream = app.stream(topic, value="json")
    held: Message | None = None
    rss_at_10 = 0.0
    seen = 0
    tenth = max(1, records // 10)
    started = time.perf_counter()
    async with app, contextlib.aclosing(aiter(stream)) as events:
        async for event in events:
            if held is None:
                held = event.message
                app.consumer.hold(held)
            seen += 1
            if seen == tenth:
                rss_at_10 = peak_rss_mb()
            if seen == records:
                break
        await events.aclose()  # the last message is released before the final commit
        seconds = time.perf_counter() - started
        rss_at_100 = peak_rss_mb()
        await app.consumer.commit()
        assert held is not None
        snapshot = app.snapshot()
        committed = {p.tp: p.committed for p in snapshot.partitions}
        inflight = {p.tp: p.inflight for p in snapshot.partitions}
        app.consumer.release(held)
    return Result(seen, seconds, rss_at_10, rss_at_100, held, committed, inflight)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--limit-mb", type=float, default=20.0)
    args = parser.parse_args(argv)
    topic = "long-run"
    with EmbeddedBroker() as broker:
        seconds = produce(broker.bootstrap, topic, args.records, args.partitions)
        print(f"produced {args.records:,} records in {seconds:.1f}s", file=sys.stderr)
        result = asyncio.run(read(broker.url, topic, args.records))
    held, committed = result.held, result.committed
    growth = result.rss_at_100 - result.rss_at_10
    base, extra = divmod(args.records, args.partitions)
    ends = {TP(topic, p): base + (p < extra) for p in range(args.partitions)}
    problems = []
    if result.seen != args.records:
        problems.append(f"read {result.seen:,} of {args.records:,} records")
    if committed.get(held.tp) != held.offset:
        problems.append(f"{held.tp} committed {committed.get(held.tp)}, held at {held.offset}")
    for tp, end in ends.items():
        if tp != held.tp and committed.get(tp) != end:
            problems.append(f"{tp} committed {committed.get(tp)}, its end is {end}")
    if growth >= args.limit_mb:
        problems.append(f"peak RSS grew {growth:.1f} MB (limit {args.limit_mb:g} MB)")
    print(
        f"read {result.seen:,} records in {result.seconds:.1f}s "
        f"with {held.tp}@{held.offset} held throughout\n"
        f"peak RSS at 10%: {result.rss_at_10:.1f} MB\n"
        f"peak RSS at 100%: {result.rss_at_100:.1f} MB\n"
        f"growth: {growth:.1f} MB (limit {args.limit_mb:g} MB)\n"
        f"in flight at the end: {dict(sorted((str(k), v) for k, v in result.inflight.items()))}"
    )
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
