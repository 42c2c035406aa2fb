"""The reference broker: Apache Kafka 4.x in KRaft combined mode, one JVM, for tests.

The suite runs against Tansu by default (``make test``, Python only).  With
``KCONSUME_TEST_BROKER=kafka`` (``make test-kafka``) the broker-facing tests run
against :class:`KafkaBroker` instead: the same test code, another broker.

The classpath is resolved once by Maven (``pom.xml`` beside this file) into
``.cache/kafka/<version>/lib`` of the project, so a run needs ``java`` (17 or newer)
and, the first time, ``mvn``.  No jar is committed.

``python -m tests.apache_kafka`` resolves the classpath and prints its folder.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from kconsume.broker import BrokerError
from kconsume.broker.embedded import die_with_parent

__all__ = [
    "DEFAULT_VERSION",
    "KafkaBroker",
    "classpath_dir",
    "have_java_and_maven",
    "resolve_classpath",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: The Apache Kafka release the reference broker runs (``KCONSUME_KAFKA_VERSION``).
DEFAULT_VERSION = "4.1.1"
#: Heap of the broker's JVM: the suite runs on two cores beside it.
DEFAULT_JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")

#: Broker settings for fast tests: one node, one partition per internal topic, no
#: join delay, sessions as short as the tests ask for, retention and the cleaner
#: checked every half second (tests that need small segments or retention set them
#: per topic).
TEST_SETTINGS: dict[str, str] = {
    "num.partitions": "1",
    "auto.create.topics.enable": "false",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    # Tansu takes records of any size; tests send one of 5 MB (Kafka's default is 1 MB).
    "message.max.bytes": str(16 << 20),
    "group.initial.rebalance.delay.ms": "0",
    # The tests' groups use a 2 s session (Tansu holds a join for half of it); Kafka's
    # default minimum is 6 s and would refuse them.
    "group.min.session.timeout.ms": "500",
    "log.initial.task.delay.ms": "0",
    "log.retention.check.interval.ms": "500",
    "log.cleaner.backoff.ms": "500",
    "log.cleaner.dedupe.buffer.size": str(16 << 20),
    "num.network.threads": "2",
    "num.io.threads": "4",
    "background.threads": "4",
}


def version() -> str:
    return os.environ.get("KCONSUME_KAFKA_VERSION") or DEFAULT_VERSION


def classpath_dir(kafka_version: str | None = None) -> Path:
    """Where the jars of ``kafka_version`` live once resolved: ``.cache/kafka/<version>/lib``."""
    cache = Path(os.environ.get("KCONSUME_KAFKA_CACHE") or ROOT / ".cache" / "kafka")
    return cache / (kafka_version or version()) / "lib"


def have_java_and_maven() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


def resolve_classpath(kafka_version: str | None = None) -> Path:
    """The folder of the broker's jars, fetched by Maven the first time (then reused)."""
    kafka_version = kafka_version or version()
    lib = classpath_dir(kafka_version)
    if (lib / ".complete").exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"Apache Kafka {kafka_version} is not in {lib} and there is no `mvn` to fetch it"
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    try:
        done = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(HERE / "pom.xml"),
                f"-Dkafka.version={kafka_version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            raise BrokerError(
                f"mvn could not resolve Apache Kafka {kafka_version}:\n"
                f"{done.stdout[-4000:]}{done.stderr[-4000:]}"
            )
        (staging / ".complete").write_text(kafka_version + "\n")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


def free_ports(host: str, n: int, taken: int | None = None) -> list[int]:
    """``n`` distinct free ports (the first is ``taken`` when given): all bound at once,
    so two calls cannot hand out the same port."""
    with contextlib.ExitStack() as stack:
        ports = [] if taken is None else [taken]
        while len(ports) < n:
            sock = stack.enter_context(socket.socket())
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
            if port not in ports:
                ports.append(port)
        return ports


def random_cluster_id() -> str:
    """A KRaft cluster id, as ``kafka-storage random-uuid`` makes one (base64url, 22 chars).

    Never one that starts with "-", as Kafka's own ``Uuid.randomUuid`` never makes: the
    command line would take it for an option (1 start in 64 failed that way).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """One Apache Kafka broker (KRaft combined mode: broker and controller) on ``host:port``.

    The same interface as :class:`kconsume.broker.EmbeddedBroker`: ``url``,
    ``bootstrap``, ``host``, ``port``, ``start()``, ``stop()``, ``running``,
    ``log_text(n)``, and a context manager.  :meth:`stop` keeps the log directory,
    so :meth:`start` again restarts the same broker on the same ports with its data;
    leaving the context (or :meth:`close`) stops it and deletes its directory.
    """

    #: What the reference broker is called in messages and skip reasons.
    kind = "kafka"

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        kafka_version: str | None = None,
        settings: Mapping[str, str] | None = None,
        jvm_options: tuple[str, ...] = DEFAULT_JVM_OPTIONS,
    ) -> None:
        self.host = host
        self.port, self.controller_port = free_ports(host, 2, taken=port)
        self.kafka_version = kafka_version or version()
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.jvm_options = jvm_options
        self.workdir = Path(tempfile.mkdtemp(prefix="kconsume-kafka-"))
        self.log_path = self.workdir / "broker.log"
        self._formatted = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def _properties(self) -> str:
        listeners = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
        }
        return "".join(f"{k}={v}\n" for k, v in {**listeners, **self.settings}.items())

    def _java(self, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("the reference broker (Apache Kafka) needs `java` 17 or newer")
        lib = resolve_classpath(self.kafka_version)
        return [
            java,
            *self.jvm_options,
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
            "-cp",
            f"{lib}/*",
            main,
            *args,
        ]

    def _format(self) -> None:
        """Write ``server.properties`` and format the log directory with the storage tool."""
        config = self.workdir / "server.properties"
        config.write_text(self._properties())
        done = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--config",
                str(config),
                "--cluster-id",
                random_cluster_id(),
                "--ignore-formatted",
            ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BrokerError(f"kafka-storage format failed:\n{done.stdout}{done.stderr}")
        self._formatted = True

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        """Start the JVM (formatting the log directory the first time) and wait until it serves."""
        if self.running:
            return self
        if not self._formatted:
            self._format()
        since = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.workdir / "server.properties")),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the tests, which stop it in order
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"Apache Kafka exited at start-up:\n{self.log_text()}")
            if "Kafka Server started" in self._log_since(since) and self._accepts():
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(
            f"Apache Kafka did not start on {self.bootstrap} in {timeout}s:\n{self.log_text()}"
        )

    def _accepts(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (a controlled shutdown); its data stays for :meth:`start`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the broker and delete its directory (data, config, log)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self, limit: int = 20_000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def __enter__(self) -> KafkaBroker:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
