"""``kconsume consume`` as a real process against the real broker."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import orjson
import pytest

from kconsume.admin import create_topics, producer
from kconsume.broker import free_port
from tests.brokers import Broker
from tests.helpers import wait_for
from tests.integration.conftest import Produce, group_committed

pytestmark = pytest.mark.broker


#: Tansu holds a group join for about half the session timeout: keep it short in tests.
FAST_GROUP = ("-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300")


def consume(
    broker: Broker, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    group_args = FAST_GROUP if "-g" in args else ()
    return subprocess.run(
        [sys.executable, "-m", "kconsume", "consume", "-b", broker.bootstrap, *args, *group_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[dict]:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def positions(docs: Sequence[dict]) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    return sorted((d["partition"], d["offset"]) for d in docs)


@pytest.fixture
async def orders(broker: Broker, topic: str, produce: Produce) -> str:
    """30 JSON orders over 3 partitions: offsets 0..9 in each."""
    await produce(topic, 30)
    return topic


# -- where to start ------------------------------------------------------------


def test_beginning_with_exit_reads_everything_once(
    client: str, broker: Broker, orders: str
) -> None:
    docs = lines(consume(broker, orders, "-o", "beginning", "-e"))
    assert positions(docs) == [(p, o) for p in range(3) for o in range(10)]
    first = next(d for d in docs if d["partition"] == 0 and d["offset"] == 0)
    assert first["value"] == {"order": 0}  # JSON embedded as JSON, not as a string
    assert first["key"] == 0 and first["topic"] == orders  # auto: "0" parses as JSON
    assert isinstance(first["timestamp"], int) and first["headers"] == {}


def test_default_start_is_the_end(client: str, broker: Broker, orders: str) -> None:
    assert lines(consume(broker, orders, "-e")) == []


def test_minus_n_starts_n_before_the_end_of_each_partition(
    client: str, broker: Broker, orders: str
) -> None:
    docs = lines(consume(broker, orders, "-o", "-2", "-e"))
    assert positions(docs) == [(p, o) for p in range(3) for o in (8, 9)]


def test_absolute_offset_and_partition_selection(client: str, broker: Broker, orders: str) -> None:
    docs = lines(consume(broker, orders, "-o", "7", "-p", "1", "-p", "2", "-e"))
    assert positions(docs) == [(p, o) for p in (1, 2) for o in (7, 8, 9)]


async def test_start_at_a_time(client: str, broker: Broker, topic: str, produce: Produce) -> None:
    await produce(topic, 6)
    time.sleep(0.05)  # timestamps must differ by more than a clock tick
    cut = int(time.time() * 1000)
    time.sleep(0.05)
    await produce(topic, 6, start=6)
    docs = lines(consume(broker, topic, "-o", f"@{cut}", "-e"))
    assert sorted(d["value"]["order"] for d in docs) == list(range(6, 12))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut / 1000)) + f".{cut % 1000:03d}Z"
    docs = lines(consume(broker, topic, "-o", f"@{iso}", "-e"))
    assert sorted(d["value"]["order"] for d in docs) == list(range(6, 12))


async def test_until_stops_each_partition_at_a_time(
    client: str, broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 6)
    time.sleep(0.05)
    cut = int(time.time() * 1000)
    time.sleep(0.05)
    await produce(topic, 6, start=6)
    docs = lines(consume(broker, topic, "-o", "beginning", "--until", f"@{cut}"))
    assert sorted(d["value"]["order"] for d in docs) == list(range(6))


async def test_exit_with_empty_partitions(client: str, broker: Broker, topic_name: str) -> None:
    await create_topics(broker.url, {topic_name: 4})
    client = producer(broker.url)
    await client.start()
    await client.send_and_wait(topic_name, b"only", partition=2)
    await client.stop()
    started = time.monotonic()
    docs = lines(consume(broker, topic_name, "-o", "beginning", "-e"))
    assert [(d["partition"], d["value"]) for d in docs] == [(2, "only")]
    assert time.monotonic() - started < 20


# -- where to stop and filters ----------------------------------------------------


def test_count_counts_after_filtering(broker: Broker, orders: str) -> None:
    docs = lines(
        consume(broker, orders, "-o", "beginning", "-c", "4", "--where", "value['order'] % 5 == 0")
    )
    assert len(docs) == 4
    assert all(d["value"]["order"] % 5 == 0 for d in docs)


def test_where_over_json_values_and_anded(broker: Broker, orders: str) -> None:
    docs = lines(
        consume(
            broker,
            orders,
            "-o",
            "beginning",
            "-e",
            "--where",
            "value['order'] >= 10",
            "--where",
            "partition == 1 and int(key) < 20",
        )
    )
    assert sorted(d["value"]["order"] for d in docs) == [10, 13, 16, 19]


async def test_a_filter_that_never_reads_the_value_decodes_only_what_it_keeps(
    broker: Broker, topic_name: str
) -> None:
    """``--where`` on the key: values are decoded for the lines written, never for the
    messages the filter drops (their broken JSON is never seen)."""
    await create_topics(broker.url, {topic_name: 1})
    client = producer(broker.url)
    await client.start()
    try:
        for i in range(6):
            keep = i % 2 == 0
            await client.send_and_wait(
                topic_name,
                b'{"n": %d}' % i if keep else b"{broken",
                key=b"keep" if keep else b"drop",
            )
    finally:
        await client.stop()
    result = consume(
        broker, topic_name, "-o", "beginning", "-e", "--value-format", "json", "--stats",
        "--where", "key == 'keep'",
    )  # fmt: skip
    docs = lines(result)
    assert [d["value"] for d in docs] == [{"n": 0}, {"n": 2}, {"n": 4}]  # decoded, as JSON
    assert "decode errors 0" in result.stderr and "not json" not in result.stderr
    everything = consume(broker, topic_name, "-o", "beginning", "-e", "--value-format", "json")
    assert everything.returncode == 0 and everything.stderr.count("not json") == 3


def test_where_syntax_error_is_reported_with_a_caret_before_consuming(
    broker: Broker, orders: str
) -> None:
    result = consume(broker, orders, "-o", "beginning", "-e", "--where", "value['order'] >> > 3")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "bad --where expression" in result.stderr
    caret_line = result.stderr.splitlines()[-1]
    expr_line = result.stderr.splitlines()[-2]
    assert expr_line.strip() == "value['order'] >> > 3"
    assert caret_line.strip() == "^"
    assert caret_line.index("^") == expr_line.index("> 3")


def test_where_with_a_name_that_cannot_exist_is_bad_usage_not_exit_0(
    broker: Broker, orders: str
) -> None:
    """A typo (``vlaue``) failed on every message, wrote nothing and exited 0."""
    result = consume(broker, orders, "-o", "beginning", "-e", "--where", "vlaue['order'] > 3")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "unknown name 'vlaue'" in result.stderr
    expr_line, caret_line = result.stderr.splitlines()[-2:]
    assert caret_line.index("^") == expr_line.index("vlaue")


async def test_header_and_grep_prefilters_run_before_decoding(
    broker: Broker, topic_name: str
) -> None:
    await create_topics(broker.url, {topic_name: 1})
    client = producer(broker.url)
    await client.start()
    for i in range(10):
        region = b"eu" if i % 2 else b"us"
        await client.send(
            topic_name, b'{"n": %d, "tag": "t%d"}' % (i, i), headers=[("region", region)]
        )
    await client.send(topic_name, b"\xff not json", headers=[("region", b"us")])
    await client.flush()
    await client.stop()
    result = consume(
        broker,
        topic_name,
        "-o",
        "beginning",
        "-e",
        "--value-format",
        "json",
        "--header",
        "region=eu",
        "--stats",
    )
    docs = lines(result)
    assert [d["value"]["n"] for d in docs] == [1, 3, 5, 7, 9]
    assert "prefiltered 6" in result.stderr and "decode errors 0" in result.stderr
    docs = lines(consume(broker, topic_name, "-o", "beginning", "-e", "--grep", r't[27]"'))
    assert [d["value"]["n"] for d in docs] == [2, 7]
    result = consume(broker, topic_name, "-o", "beginning", "-e", "--grep", "t(2")
    assert result.returncode == 2 and "bad --grep regex" in result.stderr


def test_script_keep_and_async_transform(broker: Broker, orders: str, tmp_path: Path) -> None:
    script = tmp_path / "orders.py"
    script.write_text(
        "def keep(msg):\n"
        "    return msg.value['order'] < 6\n"
        "\n"
        "async def transform(msg):\n"
        "    return {'id': msg.value['order'], 'p': msg.partition}\n"
    )
    docs = lines(consume(broker, orders, "-o", "beginning", "-e", "--script", str(script)))
    assert sorted(d["value"]["id"] for d in docs) == list(range(6))
    assert all(d["value"]["p"] == d["partition"] for d in docs)


def test_broken_script_is_a_usage_error(broker: Broker, orders: str, tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("def keep(msg)\n    return True\n")
    result = consume(broker, orders, "-e", "--script", str(script))
    assert result.returncode == 2 and "bad --script" in result.stderr and "^" in result.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    result = consume(broker, orders, "-e", "--script", str(empty))
    assert result.returncode == 2 and "neither keep(msg) nor transform(msg)" in result.stderr


def test_filter_that_raises_is_counted_and_consumption_goes_on(broker: Broker, orders: str) -> None:
    # 1 / (order % 3) raises ZeroDivisionError on every third order
    result = consume(
        broker,
        orders,
        "-o",
        "beginning",
        "-e",
        "--where",
        "1 / (value['order'] % 3) > 0",
        "--stats",
    )
    docs = lines(result)
    assert sorted(d["value"]["order"] for d in docs) == [o for o in range(30) if o % 3]
    assert result.stderr.count("ZeroDivisionError") == 3  # the first few in full
    assert "further filter errors are only counted" in result.stderr
    assert "filter errors 10" in result.stderr
    # --strict: the first error ends the run (exit 1), after what came before it is written
    strict = consume(
        broker, orders, "-o", "beginning", "-e", "-p", "0", "--strict",
        "--where", "1 / (value['order'] - 12) != 0",
    )  # fmt: skip
    assert strict.returncode == 1
    assert "ZeroDivisionError" in strict.stderr and "Traceback" not in strict.stderr
    written = [orjson.loads(line)["offset"] for line in strict.stdout.splitlines()]
    assert written == [0, 1, 2, 3]  # orders 0, 3, 6, 9; order 12 raised


# -- payloads -------------------------------------------------------------------------


async def test_awkward_payloads(broker: Broker, topic_name: str) -> None:
    await create_topics(broker.url, {topic_name: 1})
    client = producer(broker.url, max_request_size=8 * 1024 * 1024)
    await client.start()
    big = orjson.dumps({"blob": "x" * (5 * 1024 * 1024)})
    sent = []
    sent.append(await client.send(topic_name, b'{"ok": true}', key=b"\x00\xff\x10"))  # 0 binary key
    sent.append(await client.send(topic_name, None, key=b"gone"))  # 1 tombstone
    sent.append(await client.send(topic_name, b"plain text", key=None))  # 2 null key
    sent.append(await client.send(topic_name, b"{broken json", key=b"k"))  # 3 malformed JSON
    sent.append(
        await client.send(topic_name, b"v", headers=[("bin", b"\xfe\x00"), ("txt", b"hi")])
    )  # 4
    sent.append(await client.send(topic_name, big, key=b"big"))  # 5: 5 MB
    sent.append(await client.send(topic_name, b"\x80\x81 not utf-8"))  # 6
    await client.flush()
    for future in sent:  # a broker that refuses a record says so here
        await future
    await client.stop()

    docs = lines(consume(broker, topic_name, "-o", "beginning", "-e", timeout=90))
    by_offset = {d["offset"]: d for d in docs}
    assert sorted(by_offset) == list(range(7))
    assert by_offset[0]["key_encoding"] == "base64"
    assert base64.b64decode(by_offset[0]["key"]) == b"\x00\xff\x10"
    assert by_offset[1]["value"] is None and by_offset[1]["key"] == "gone"
    assert by_offset[2]["key"] is None and by_offset[2]["value"] == "plain text"
    assert by_offset[3]["value"] == "{broken json"  # auto: not JSON, so text
    assert by_offset[4]["headers"] == {"bin": {"base64": "/gA="}, "txt": "hi"}
    assert len(by_offset[5]["value"]["blob"]) == 5 * 1024 * 1024
    assert by_offset[6]["value_encoding"] == "base64"
    assert base64.b64decode(by_offset[6]["value"]) == b"\x80\x81 not utf-8"

    strict_json = lines(consume(broker, topic_name, "-o", "3", "-c", "1", "--value-format", "json"))
    assert strict_json[0]["value"] == "{broken json"  # kept, never dropped
    assert strict_json[0]["value_error"].startswith("not json")


# -- formats ---------------------------------------------------------------------------


def test_raw_template_and_pretty_formats(broker: Broker, orders: str) -> None:
    raw = consume(broker, orders, "-o", "beginning", "-e", "-p", "0", "-f", "raw")
    assert raw.stdout.splitlines()[:2] == ['{"order":0}', '{"order":3}']
    tpl = consume(
        broker,
        orders,
        "-o",
        "beginning",
        "-e",
        "-p",
        "0",
        "-f",
        "{partition}:{offset} {key}\\t{value}",
    )
    assert tpl.stdout.splitlines()[1] == '0:1 3\t{"order":3}'
    pretty = consume(broker, orders, "-o", "8", "-e", "-p", "0", "-f", "pretty", "--no-color")
    assert f"{orders}[0] @8" in pretty.stdout and '"order": 24' in pretty.stdout
    assert "\x1b[" not in pretty.stdout
    bad = consume(broker, orders, "-e", "-f", "{partition} {nope}")
    assert bad.returncode == 2 and "unknown field nope" in bad.stderr


# -- groups ------------------------------------------------------------------------------


def test_group_commits_what_it_wrote_and_resumes(client: str, broker: Broker, orders: str) -> None:
    group = f"cli-{orders}"
    first = lines(consume(broker, orders, "-g", group, "-o", "beginning", "-c", "12"))
    assert len(first) == 12
    second = lines(consume(broker, orders, "-g", group, "-o", "beginning", "-e"))
    assert len(second) == 18
    assert set(positions(first)) | set(positions(second)) == {
        (p, o) for p in range(3) for o in range(10)
    }
    assert not set(positions(first)) & set(positions(second))


async def test_group_killed_with_sigkill_loses_nothing(
    client: str, broker: Broker, topic: str, produce: Produce, tmp_path: Path
) -> None:
    await produce(topic, 600)
    group = f"kill-{topic}"
    out_path = tmp_path / "out1.jsonl"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kconsume",
                "consume",
                "-b",
                broker.bootstrap,
                topic,
                "-g",
                group,
                "-o",
                "beginning",
            ],
            stdout=out,
            stderr=subprocess.PIPE,
        )
        try:
            await wait_for(lambda: out_path.stat().st_size > 0, timeout=30, what="first output")
            committed: dict[int, int | None] = {}

            async def some_commit() -> bool:
                committed.update(await group_committed(broker, group, topic))
                return any(committed.values())

            deadline = time.monotonic() + 30
            while not await some_commit():
                assert time.monotonic() < deadline, "no commit within 30 s"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.stderr is not None
            proc.stderr.close()
    first = [orjson.loads(line) for line in out_path.read_bytes().splitlines() if line.strip()]
    written = set(positions(first))
    for partition, offset in (await group_committed(broker, group, topic)).items():
        # every committed offset was written before the kill
        assert all((partition, o) in written for o in range(offset or 0))
    await produce(topic, 30, start=600)
    second = lines(consume(broker, topic, "-g", group, "-e", timeout=90))
    everything = written | set(positions(second))
    assert everything == {(p, o) for p in range(3) for o in range(210)}


def test_stored_without_a_group_is_a_usage_error(broker: Broker, orders: str) -> None:
    result = consume(broker, orders, "-o", "stored")
    assert result.returncode == 2 and "needs a group" in result.stderr


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "yesterday"], "bad offset"),
        (["-c", "0"], "-c"),
        (["--until", "@tomorrow"], "not a time"),
        (["--value-format", "yaml"], "yaml"),
        (["-f", "xml"], "unknown format"),
        (["--header", "novalue"], "NAME=VALUE"),
        (["-X", "no.such.setting=1"], "NAME=VALUE"),
    ],
)
def test_bad_option_values_exit_2(
    broker: Broker, orders: str, args: list[str], message: str
) -> None:
    result = consume(broker, orders, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_unknown_topic_is_a_clear_failure(client: str, broker: Broker) -> None:
    result = consume(broker, "no-such-topic", "-e")
    assert result.returncode == 1
    assert "unknown topic: no-such-topic" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_fails_within_seconds(
    client: str,
) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "kconsume", "consume", "-b", f"127.0.0.1:{free_port()}", "t"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("kconsume: cannot reach a Kafka broker")
    assert len(result.stderr.splitlines()) == 1, result.stderr  # one line: no aiokafka ERROR
    assert time.monotonic() - started < 15


def test_broker_from_the_environment(broker: Broker, orders: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kconsume", "consume", orders, "-o", "-1", "-e", "-p", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KCONSUME_BROKER": broker.bootstrap},
    )
    assert [d["offset"] for d in lines(result)] == [9]


def test_interrupt_stops_cleanly_and_prints_stats(client: str, broker: Broker, orders: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kconsume",
            "consume",
            "-b",
            broker.bootstrap,
            orders,
            "-o",
            "beginning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    got = [proc.stdout.readline() for _ in range(30)]  # everything there is, then it follows
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert len([line for line in got if line.strip()]) == 30
    assert "scanned 30" in err and "Traceback" not in err


async def test_reader_leaving_the_pipe_stops_quietly(
    broker: Broker, topic: str, produce: Produce
) -> None:
    await produce(topic, 3000)
    group = f"pipe-{topic}"
    result = subprocess.run(
        f"{sys.executable} -m kconsume consume -b {broker.bootstrap} {topic} -g {group} "
        f"-o beginning -e {' '.join(FAST_GROUP)} | head -2; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr
    # what was committed was written into the pipe before it closed; the rest comes next time
    committed = await group_committed(broker, group, topic)
    rest = lines(consume(broker, topic, "-g", group, "-e"))
    assert len(rest) == sum(1000 - (c or 0) for c in committed.values())


def test_a_filter_that_calls_exit_is_a_filter_error_not_a_silent_exit_0(
    broker: Broker, orders: str, tmp_path: Path
) -> None:
    """``--where "exit()"`` ended the run at the first message, nothing written, exit 0."""
    result = consume(broker, orders, "-o", "beginning", "-e", "--where", "exit()")
    assert result.returncode == 0 and result.stdout == ""
    assert "--where failed on" in result.stderr and "SystemExit" in result.stderr
    assert "30 filter errors" in result.stderr  # every message was looked at
    script = tmp_path / "bye.py"
    script.write_text("import sys\n\ndef keep(msg):\n    sys.exit(4)\n")
    strict = consume(broker, orders, "-o", "beginning", "-e", "--script", str(script), "--strict")
    assert strict.returncode == 1, strict.stderr
    assert "SystemExit" in strict.stderr and "Traceback" not in strict.stderr


async def test_a_lost_broker_is_one_line_of_kconsume_not_the_clients_log(
    make_broker: Callable[[], AbstractContextManager[Broker]],
) -> None:
    """aiokafka logs an ERROR line for every retry (several a second): kconsume says
    once that the broker is gone, in its own words, and nothing else."""
    with make_broker() as own:
        await create_topics(own.url, {"lost": 1})
        client = producer(own.url)
        await client.start()
        try:
            for i in range(3):
                await client.send_and_wait("lost", str(i).encode(), partition=0)
        finally:
            await client.stop()
        proc = subprocess.Popen(
            [sys.executable, "-m", "kconsume", "consume", "-b", own.bootstrap, "lost",
             "-o", "beginning", "-g", "lost-group", *FAST_GROUP],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        try:
            assert len([proc.stdout.readline() for _ in range(3)]) == 3
            own.stop()
            await wait_for(
                lambda: any("lost the connection" in line for line in err), 30, "the lost line"
            )
            proc.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(proc.wait, 60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(10)
            proc.stdout.close()
            proc.stderr.close()
    said = [line for line in err if line.strip()]
    assert said[0] == (
        f"kconsume: lost the connection to the Kafka broker at {own.bootstrap}; "
        "retrying until it is back\n"
    ), said
    assert [line for line in said if "aiokafka" in line or "ERROR" in line] == [], said
    assert [line for line in said if line.startswith("kconsume: scanned 3")] == [said[1]], said
    # The final commit, with the broker gone, fails and says so (Apache Kafka's client
    # waits for the coordinator until the commit timeout; Tansu's connection is refused).
    assert all("commit of" in line and "failed" in line for line in said[2:]), said


async def test_one_rendering_per_kind_of_payload(broker: Broker, topic_name: str) -> None:
    """Bytes that are not UTF-8, a null key and a tombstone each read one way in text
    output (pretty, templates), and ``-f raw`` writes the value's bytes as stored."""
    await create_topics(broker.url, {topic_name: 1})
    client = producer(broker.url)
    await client.start()
    try:
        for key, value in [
            (b"k0", b'{ "spaced" :  1 }'),  # 0: JSON, written as stored under raw
            (None, b"\xff\x00"),  # 1: null key, binary value
            (b"gone", None),  # 2: tombstone
            (b"k3", b"null"),  # 3: the text "null", not a tombstone
        ]:
            await client.send_and_wait(topic_name, value, key=key, partition=0)
    finally:
        await client.stop()

    raw_bytes = subprocess.run(
        [sys.executable, "-m", "kconsume", "consume", "-b", broker.bootstrap, topic_name,
         "-o", "beginning", "-e", "-f", "raw"],
        capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    assert raw_bytes == b'{ "spaced" :  1 }\n\xff\x00\nnull\n'  # the tombstone writes nothing

    tpl = consume(broker, topic_name, "-o", "beginning", "-e", "-f", "{offset} {key} {value}")
    assert tpl.stdout.splitlines() == [
        '0 k0 {"spaced":1}',
        "1 (no key) base64:/wA=",
        "2 gone (tombstone)",
        "3 k3 null",
    ]
    pretty = consume(broker, topic_name, "-o", "beginning", "-e", "-f", "pretty", "--no-color")
    assert "key (no key)" in pretty.stdout
    assert "\nbase64:/wA=\n" in pretty.stdout and "\n(tombstone)\n" in pretty.stdout


async def test_count_commits_exactly_what_it_wrote_where_a_pipe_would_not(
    broker: Broker, topic: str, produce: Produce
) -> None:
    """docs/cli.md (Pipes): ``| head -3`` commits what went into the pipe; ``-c 3``
    takes, writes and commits exactly 3."""
    await produce(topic, 300, partition=0)
    group = f"count-{topic}"
    docs = lines(consume(broker, topic, "-g", group, "-o", "beginning", "-p", "0", "-c", "3"))
    assert [d["offset"] for d in docs] == [0, 1, 2]
    assert (await group_committed(broker, group, topic))[0] == 3
