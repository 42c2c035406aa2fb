"""Where the engine's time per message goes, stage by stage, without a broker.

Run with ``make bench-profile`` (or ``.venv/bin/python bench/profile_path.py``).

The same N small JSON records are run through each stage of the engine's path the way
the Consumer, the Conductor and a Stream run them, one slice (256 records) at a time,
with the real engine objects where they can run alone: ``PartitionState.deliver`` (a
Message per record), the Conductor's work for one stream (refcount, one Event), the
stream's buffer, the reader's iteration (an async generator with the stream's
``finally``, modelled: the real one needs a running consumer), and
``PartitionState.ack``.  Next to
them, the part a raw loop does too (``orjson.loads``) and what aiokafka spends building
its own ``ConsumerRecord`` per record, measured the same way.  Prints nanoseconds per
message per stage, the median of several rounds, and each stage's share.  The machine
is noisy: read the shares, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections import deque

import orjson
from aiokafka.structs import ConsumerRecord

from kconsume.cli.runtime import tune_gc
from kconsume.engine.consumer import DELIVERY_SLICE
from kconsume.engine.offsets import PartitionState
from kconsume.engine.types import TP, Event, Record

STAGES = (
    "aiokafka ConsumerRecord (raw loop too)",
    "orjson.loads (raw loop too)",
    "PartitionState.deliver: a Message per record",
    "Conductor: refcount, Event",
    "Stream.put_many",
    "reader: async for + finally (modelled)",
    "PartitionState.ack",
)


def records(n: int) -> list[Record]:
    return [
        Record("t", 0, i, 0, None, orjson.dumps({"order": i, "customer": f"c{i % 97}"}))
        for i in range(n)
    ]


async def one_round(data: list[Record]) -> list[float]:
    """Seconds per stage for the whole of ``data``, slice by slice."""
    spent = [0.0] * len(STAGES)
    clock = time.perf_counter
    loads = orjson.loads
    new_event = tuple.__new__
    state = PartitionState(TP("t", 0), None, 0.0)
    buffer: deque[Event] = deque()

    async def iterate(events: int) -> None:
        async def gen() -> object:
            while buffer:
                event = buffer.popleft()
                try:
                    yield event
                finally:
                    message = event.message
                    message.refcount -= 1

        seen = 0
        async for _ in gen():  # type: ignore[attr-defined]
            seen += 1

    for start in range(0, len(data), DELIVERY_SLICE):
        chunk = data[start : start + DELIVERY_SLICE]
        t0 = clock()
        for r in chunk:  # what aiokafka's fetcher does per record before getmany returns it
            ConsumerRecord(
                r.topic, r.partition, r.offset, r.timestamp, 0, r.key, r.value, None, 0, 0, ()
            )
        t1 = clock()
        for r in chunk:
            loads(r.value)  # type: ignore[arg-type]
        t2 = clock()
        slice_ = state.deliver(chunk, 0.0)
        assert slice_ is not None
        messages = slice_.messages
        t3 = clock()
        events = []
        append = events.append
        for message in messages:
            message.refcount = 1
            append(new_event(Event, (message, message.key, message.value)))
        t4 = clock()
        buffer.extend(events)
        t5 = clock()
        await iterate(len(events))
        t6 = clock()
        ack = state.ack
        for message in messages:
            ack(message)
        t7 = clock()
        for i, (a, b) in enumerate(
            ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6), (t6, t7))
        ):
            spent[i] += b - a
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--default-gc", action="store_true", help="keep Python's GC settings")
    args = parser.parse_args(argv)
    data = records(args.messages)
    if not args.default_gc:
        tune_gc()
    rounds = [asyncio.run(one_round(data)) for _ in range(args.rounds)]
    medians = [
        statistics.median(r[i] for r in rounds) / args.messages * 1e9 for i in range(len(STAGES))
    ]
    engine = sum(medians[2:])
    print(f"{args.messages:,} records, {args.rounds} rounds, median ns per message:")
    for name, ns in zip(STAGES, medians, strict=True):
        share = f"{ns / engine:5.0%} of the engine's own" if name not in STAGES[:2] else ""
        print(f"  {name:<46} {ns:7.0f}  {share}")
    raw = medians[0] + medians[1]
    print(f"  {'raw loop (record + loads)':<46} {raw:7.0f}")
    print(f"  {'engine on top of it':<46} {engine:7.0f}")
    print(
        "  ratio the engine's own work allows (raw / (raw + engine)), before any network: "
        f"{raw / (raw + engine):.2f}"
    )
    gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
