"""Chaos: group consumers under faults, and proof that nothing was lost.

Run with ``make chaos`` (or ``.venv/bin/python chaos/run.py --seed S --faults N``).
Loopback only, bounded in time, not part of ``make test``.

One embedded broker; a producer writes a known sequence (record ``seq`` n is the
n-th produced) at a steady rate, while two groups read it:

* ``chaos-consume``: three ``kconsume consume -g`` processes writing jsonl to files;
* ``chaos-app``: two ``kconsume run --headless`` processes whose agent writes each
  record to a file (``os.write``, so what the agent wrote survives a SIGKILL).

A seeded scheduler (the seed is printed) injects faults one at a time, at random:

* ``kill``: SIGKILL a member, restart it a moment later;
* ``freeze``: SIGSTOP a member past the session timeout (it comes back as a zombie
  whose partitions were given away), then SIGCONT;
* ``broker-freeze``: SIGSTOP the broker for a few seconds, then SIGCONT;
* ``storm``: add a fourth member to a group, remove it (SIGTERM or SIGKILL) soon after.

After each fault it waits until every record produced before the fault has been
written by its group ("recovered"), and notes when a member first said something
on stderr ("reported").  At the end it stops the producer, lets both groups drain,
stops the members and prints: records produced, written at least once, lost (must be
0), duplicates (and the fault behind the largest batch of them), each group's
committed offsets against the log end (must be equal), and each fault's times.
Exit 1 on any loss or on committed offsets short of the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kconsume.broker import EmbeddedBroker

TOPIC = "chaos"
SESSION_TIMEOUT_MS = 6000
GROUP_SETTINGS = (
    "-X", f"session.timeout.ms={SESSION_TIMEOUT_MS}",
    "-X", "heartbeat.interval.ms=1000",
    "-X", "request.timeout.ms=10000",
)  # fmt: skip

APP = """
import os
import orjson
from kconsume import App

app = App({url!r}, group_id="chaos-app", commit_interval=1.0,
          session_timeout_ms={session}, heartbeat_interval_ms=1000, request_timeout_ms=10000)
fd = os.open({out!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

@app.agent({topic!r}, value="json")
async def copy(stream):
    async for event in stream:  # written before the loop body ends: before any commit
        os.write(fd, orjson.dumps({{"partition": event.partition, "offset": event.offset,
                                    "value": event.value}}) + b"\\n")
"""


# -- the producer ----------------------------------------------------------------------


class SequenceProducer(threading.Thread):
    """Writes record seq 0, 1, 2, ... at ``rate`` a second, keyed over the partitions."""

    def __init__(self, bootstrap: str, rate: int) -> None:
        super().__init__(name="chaos-producer", daemon=True)
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4",
             "enable.idempotence": True, "message.timeout.ms": 300_000}
        )  # fmt: skip
        self.rate = rate
        self.sent = 0
        self.acked: dict[int, tuple[int, int]] = {}  # seq -> (partition, offset)
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._halt.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while self.sent < due:
                seq = self.sent
                self.producer.produce(
                    TOPIC, value=orjson.dumps({"seq": seq}), key=b"%d" % seq,
                    on_delivery=lambda err, msg, seq=seq: self._delivered(seq, err, msg),
                )  # fmt: skip
                self.sent += 1
            self.producer.poll(0.01)
        self.producer.flush(120)

    def _delivered(self, seq: int, err: object, msg: object) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.acked[seq] = (msg.partition(), msg.offset())  # type: ignore[attr-defined]

    def stop(self) -> None:
        self._halt.set()
        self.join()


# -- members ---------------------------------------------------------------------------


@dataclasses.dataclass
class Member:
    """One consumer process of a group, restarted as new incarnations."""

    group: str
    name: str
    argv: list[str]
    work: Path
    #: Where its records go: its stdout (``consume``) or a file its agent appends to.
    writes_stdout: bool = True
    incarnation: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.incarnation += 1
        suffix = "jsonl" if self.writes_stdout else "log"
        with (
            open(self.work / f"{self.name}.{self.incarnation}.{suffix}", "ab") as stdout,
            open(self.work / f"{self.name}.{self.incarnation}.err", "ab") as stderr,
        ):
            self.process = subprocess.Popen(self.argv, stdout=stdout, stderr=stderr)

    def outputs(self) -> list[Path]:
        if self.writes_stdout:
            return sorted(self.work.glob(f"{self.name}.*.jsonl"))
        return [self.work / f"{self.name}.out"]

    def stderr_size(self) -> int:
        return sum(p.stat().st_size for p in self.work.glob(f"{self.name}.*.err"))

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (a clean stop: flush, commit, leave); SIGKILL if it hangs."""
        if self.process is None:
            return None
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


class Written:
    """What one group's members wrote, read from their files as they grow."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.count: Counter[int] = Counter()
        self.second_writes: list[tuple[float, int]] = []  # (when read, seq)
        self.lines = 0
        self._offsets: dict[Path, int] = {}
        self._low = 0  # every seq below it was written

    def scan(self, members: list[Member]) -> None:
        now = time.monotonic()
        for path in (p for m in members for p in m.outputs() if p.exists()):
            start = self._offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
            end = data.rfind(b"\n") + 1  # complete lines only
            self._offsets[path] = start + end
            for line in data[:end].splitlines():
                seq = orjson.loads(line)["value"]["seq"]
                self.lines += 1
                self.count[seq] += 1
                if self.count[seq] == 2:
                    self.second_writes.append((now, seq))
        while self.count[self._low]:
            self._low += 1

    def covers(self, upto: int) -> bool:
        """True once every seq below ``upto`` was written at least once."""
        return self._low >= upto


# -- the run ----------------------------------------------------------------------------


@dataclasses.dataclass
class Fault:
    kind: str
    target: str
    at: float
    produced_before: int
    reported: float | None = None
    recovered: float | None = None


async def committed_and_ends(
    bootstrap: str, group: str, partitions: int
) -> tuple[dict[int, int | None], dict[int, int]]:
    tps = [TopicPartition(TOPIC, p) for p in range(partitions)]
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    grouped = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    await grouped.start()
    try:
        reader.assign(tps)
        for tp in tps:
            reader.seek(tp, 0)
        while any(reader.highwater(tp) is None for tp in tps):
            await reader.getmany(timeout_ms=200)
        ends = {tp.partition: reader.highwater(tp) for tp in tps}
        committed = {tp.partition: await grouped.committed(tp) for tp in tps}
        return committed, ends
    finally:
        await grouped.stop()
        await reader.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--faults", type=int, default=22)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=int, default=300, help="records a second")
    parser.add_argument("--budget", type=float, default=540, help="seconds for the faults")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    print(
        f"chaos: seed {seed}, {args.faults} faults, {args.partitions} partitions, "
        f"{args.rate} records/s"
    )
    work = Path(tempfile.mkdtemp(prefix="kconsume-chaos-"))
    with EmbeddedBroker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for future in admin.create_topics([NewTopic(TOPIC, args.partitions, 1)]).values():
            future.result(30)
        kconsume = [sys.executable, "-m", "kconsume"]
        consume_argv = [*kconsume, "consume", TOPIC, "-b", broker.bootstrap, "-g", "chaos-consume",
                        "-o", "beginning", "-f", "jsonl", "--value-format", "json",
                        *GROUP_SETTINGS]  # fmt: skip
        members: list[Member] = [
            Member("chaos-consume", f"consume-{i}", consume_argv, work) for i in range(3)
        ]
        for i in range(2):
            name = f"app-{i}"
            path = work / f"{name}.py"
            path.write_text(
                APP.format(
                    url=broker.url,
                    session=SESSION_TIMEOUT_MS,
                    topic=TOPIC,
                    out=f"{work}/{name}.out",
                )
            )
            argv = [*kconsume, "run", str(path), "--headless", "--every", "3600"]
            members.append(Member("chaos-app", name, argv, work, writes_stdout=False))
        extra = Member("chaos-consume", "consume-extra", consume_argv, work)
        groups = {g: Written(g) for g in ("chaos-consume", "chaos-app")}

        everyone = [*members, extra]
        stderr_seen = {m.name: 0 for m in everyone}
        said: list[float] = []  # when a member's stderr grew (a warning was logged)

        def scan() -> None:
            for group, written in groups.items():
                written.scan([m for m in everyone if m.group == group])
            for m in everyone:
                size = m.stderr_size()
                if size > stderr_seen[m.name]:
                    stderr_seen[m.name] = size
                    said.append(time.monotonic())

        def wait(condition: Callable[[], bool], timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                scan()
                if condition():
                    return True
                time.sleep(0.1)
            return False

        for m in members:
            m.start()
        producer = SequenceProducer(broker.bootstrap, args.rate)
        producer.start()
        begun = time.monotonic()
        wait(lambda: all(w.covers(args.rate) for w in groups.values()), 60)
        faults: list[Fault] = []
        kinds = ["kill", "kill", "freeze", "broker-freeze", "storm"]
        while len(faults) < args.faults and time.monotonic() - begun < args.budget:
            kind = rng.choice(kinds)
            target = rng.choice(members)
            fault = Fault(
                kind,
                target.name
                if kind not in ("broker-freeze", "storm")
                else ("broker" if kind == "broker-freeze" else "consume-extra"),
                time.monotonic(),
                producer.sent,
            )
            faults.append(fault)
            print(f"  {fault.at - begun:6.1f}s  {kind:<13} {fault.target}", flush=True)
            if kind == "kill":
                target.signal(signal.SIGKILL)
                target.process.wait()  # type: ignore[union-attr]
                time.sleep(rng.uniform(0.2, 2.0))
                target.start()
            elif kind == "freeze":
                target.signal(signal.SIGSTOP)
                time.sleep(SESSION_TIMEOUT_MS / 1000 * rng.uniform(1.3, 2.0))
                target.signal(signal.SIGCONT)
            elif kind == "broker-freeze":
                assert broker._process is not None
                broker._process.send_signal(signal.SIGSTOP)
                time.sleep(rng.uniform(2, 5))
                broker._process.send_signal(signal.SIGCONT)
            else:  # storm: a fourth member joins, then leaves
                extra.start()
                time.sleep(rng.uniform(3, 6))
                extra.signal(signal.SIGKILL if rng.random() < 0.5 else signal.SIGTERM)
                extra.process.wait()  # type: ignore[union-attr]
            upto = fault.produced_before
            recovered = wait(lambda upto=upto: all(w.covers(upto) for w in groups.values()), 90)
            fault.recovered = time.monotonic() - fault.at if recovered else None
            heard = [t - fault.at for t in said if t >= fault.at]
            fault.reported = min(heard) if heard else None
            time.sleep(rng.uniform(0.5, 2.0))

        producer.stop()
        produced = producer.sent
        drained = wait(lambda: all(w.covers(produced) for w in groups.values()), 120)
        committed_ok = {}
        for group in groups:
            deadline = time.monotonic() + 60
            while True:
                committed, ends = asyncio.run(
                    committed_and_ends(broker.bootstrap, group, args.partitions)
                )
                if committed == ends or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            committed_ok[group] = (committed, ends)
        codes = {m.name: m.stop() for m in members}
        scan()
        final = {
            g: asyncio.run(committed_and_ends(broker.bootstrap, g, args.partitions)) for g in groups
        }

    print()
    print(f"produced {produced:,} records; producer errors: {len(producer.errors)}")
    failed = bool(producer.errors) or not drained
    for group, written in groups.items():
        lost = sum(1 for seq in range(produced) if not written.count[seq])
        duplicates = written.lines - len(written.count)
        cause = "-"
        if written.second_writes:
            windows = Counter(
                next((i for i in range(len(faults) - 1, -1, -1) if faults[i].at <= when), -1)
                for when, _ in written.second_writes
            )
            index, size = windows.most_common(1)[0]
            cause = (
                f"{size} after fault {index + 1} ({faults[index].kind} {faults[index].target})"
                if index >= 0
                else f"{size} before any fault"
            )
        committed, ends = final[group]
        at_end = committed == ends
        failed |= lost > 0 or not at_end
        print(
            f"{group}: written at least once {len(written.count):,}, lost {lost}, "
            f"duplicates {duplicates:,} (largest batch: {cause})"
        )
        print(f"  committed {[committed[p] for p in sorted(committed)]}")
        print(
            f"  log end   {[ends[p] for p in sorted(ends)]}  {'equal' if at_end else 'NOT EQUAL'}"
        )
        while_running = committed_ok[group][0] == committed_ok[group][1]
        print(f"  drained while running: {'yes' if while_running else 'no'}")
    print(f"members' exit codes at the end (SIGTERM): {codes}")
    print()
    print(f"{'#':>3} {'fault':<14}{'target':<15}{'reported':>10}{'recovered':>11}")
    for i, f in enumerate(faults, 1):
        rep = f"{f.reported:.1f}s" if f.reported is not None else "-"
        rec = f"{f.recovered:.1f}s" if f.recovered is not None else "NOT"
        print(f"{i:>3} {f.kind:<14}{f.target:<15}{rep:>10}{rec:>11}")
    print(f"\nfiles: {work}")
    print("RESULT:", "FAILED" if failed else "ok: nothing lost, committed offsets at the log end")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
