"""``consume -o beginning -e`` on a large topic written by librdkafka: every line, once.

Run with ``make bench-exact`` (or ``.venv/bin/python bench/exact_end.py --records N``).

One embedded broker; confluent-kafka (librdkafka) writes N records over P partitions
with lz4 in large batches; then ``kconsume consume TOPIC -o beginning -e -f jsonl``
runs as a real process, its output read through a pipe.  The script prints the
count and the time, and exits 1 unless exactly N lines came out, each (partition,
offset) once, and each partition complete.  Not part of ``make test``: it takes a
minute or two.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kconsume.broker import EmbeddedBroker


def produce(bootstrap: str, topic: str, records: int, partitions: int) -> float:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(30)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": "lz4",
            "linger.ms": 100,
            "batch.num.messages": 10_000,
            "batch.size": 1_000_000,
        }
    )
    started = time.perf_counter()
    for i in range(records):
        value = orjson.dumps({"order": i, "amount": i % 1000, "customer": f"c{i % 997}"})
        while True:
            try:
                producer.produce(topic, value=value, key=b"%d" % i, partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(300):
        raise SystemExit("the producer could not deliver every record")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    topic = "exact-end"
    with EmbeddedBroker() as broker:
        took = produce(broker.bootstrap, topic, args.records, args.partitions)
        print(
            f"produced {args.records:,} records over {args.partitions} partitions "
            f"(lz4, librdkafka) in {took:.1f}s"
        )
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "kconsume", "consume", topic, "-b", broker.bootstrap,
             "-o", "beginning", "-e", "-f", "jsonl"],
            stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert process.stdout is not None
        lines = 0
        seen: set[tuple[int, int]] = set()
        per_partition = [0] * args.partitions
        for line in process.stdout:
            doc = orjson.loads(line)
            lines += 1
            seen.add((doc["partition"], doc["offset"]))
            per_partition[doc["partition"]] += 1
        code = process.wait()
        took = time.perf_counter() - started
    print(
        f"consume -o beginning -e: exit {code}, {lines:,} lines in {took:.1f}s "
        f"({lines / took:,.0f}/s)"
    )
    expected = [
        args.records // args.partitions + (p < args.records % args.partitions)
        for p in range(args.partitions)
    ]
    ok = code == 0 and lines == args.records and len(seen) == lines and per_partition == expected
    if not ok:
        print(
            f"NOT EXACT: {len(seen):,} distinct, per partition {per_partition}, wanted {expected}"
        )
        return 1
    print("exact: every record once, every partition complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
