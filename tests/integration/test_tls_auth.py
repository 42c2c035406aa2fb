"""TLS and SASL against the real broker: what works, and one clear line for what does not.

Tansu 0.6 serves no TLS itself, so the TLS broker is Tansu behind the embedded
broker's TLS front (see kconsume/broker/embedded.py); its certificates come from a
throwaway CA made here.  ``--authentication`` makes Tansu require a SASL SCRAM
login; on its in-memory storage no user can be created (creating one needs a login),
so only refused logins can be tested: see docs/architecture.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from kconsume.admin import create_topics, producer
from kconsume.broker import EmbeddedBroker
from tests.integration.certs import Certs, make_certs

pytestmark = pytest.mark.broker

#: A failure must be said within this many seconds, never hang.
PROMPT = 15.0


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_broker(certs: Certs) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(cert=certs.server_cert, key=certs.server_key) as running:
        yield running


@pytest.fixture(scope="module")
def auth_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(authentication=True) as running:
        yield running


def kconsume(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "kconsume", *args], capture_output=True, text=True, timeout=60
    )
    return result, time.monotonic() - started


def assert_one_line_failure(result: subprocess.CompletedProcess[str], took: float) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kconsume: "), result.stderr
    assert took < PROMPT, f"took {took:.1f}s: {result.stderr}"
    return lines[0]


@pytest.fixture
async def tls_orders(tls_broker: EmbeddedBroker, certs: Certs, topic_name: str) -> str:
    """12 records over 3 partitions, written over TLS."""
    tls = {"security_protocol": "SSL", "ssl_cafile": str(certs.ca)}
    await create_topics(tls_broker.url, {topic_name: 3}, **tls)
    client = producer(tls_broker.url, **tls)
    await client.start()
    try:
        for i in range(12):
            await client.send(topic_name, orjson.dumps({"order": i}), key=b"k", partition=i % 3)
        await client.flush()
    finally:
        await client.stop()
    return topic_name


@pytest.mark.parametrize(
    "ca_args",
    [
        pytest.param(("-X", "security.protocol=SSL", "-X", "ssl.ca.location={ca}"), id="kcat-X"),
        pytest.param(("--ssl-cafile", "{ca}"), id="ssl-cafile"),
    ],
)
def test_tls_reads_exactly_the_produced_records(
    tls_broker: EmbeddedBroker, certs: Certs, tls_orders: str, ca_args: tuple[str, ...]
) -> None:
    args = [a.format(ca=certs.ca) for a in ca_args]
    result, _ = kconsume("consume", tls_orders, "-b", tls_broker.bootstrap, *args,
                         "-o", "beginning", "-e")  # fmt: skip
    assert result.returncode == 0, result.stderr
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert sorted((d["partition"], d["offset"], d["value"]["order"]) for d in docs) == sorted(
        (i % 3, i // 3, i) for i in range(12)
    )


def test_tls_group_commits_and_peek(
    tls_broker: EmbeddedBroker, certs: Certs, tls_orders: str
) -> None:
    """A group over TLS commits what it wrote, and peek (another client path) sees it."""
    tls = ("-X", f"ssl.ca.location={certs.ca}", "-b", tls_broker.bootstrap)
    fast = ("-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300")
    result, _ = kconsume("consume", tls_orders, *tls, *fast, "-g", "tls-g", "-o", "beginning",
                         "-c", "12")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 12
    peeked, _ = kconsume("peek", "tls-g", tls_orders, *tls, "-B", "1", "-A", "0")
    assert peeked.returncode == 0, peeked.stderr
    before = [orjson.loads(line) for line in peeked.stdout.splitlines()]
    assert sorted((d["partition"], d["offset"], d["peek"]) for d in before) == [
        (p, 3, "before") for p in range(3)
    ]


def test_an_untrusted_certificate_is_said_at_once(tls_broker: EmbeddedBroker, certs: Certs) -> None:
    wrong = ("-X", "security.protocol=SSL", "-X", f"ssl.ca.location={certs.wrong_ca}")
    result, took = kconsume("consume", "any", "-b", tls_broker.bootstrap, "-e", *wrong)
    line = assert_one_line_failure(result, took)
    assert "certificate is not trusted" in line


def test_plaintext_against_a_tls_listener_is_said_at_once(tls_broker: EmbeddedBroker) -> None:
    result, took = kconsume("consume", "any", "-b", tls_broker.bootstrap, "-e")
    line = assert_one_line_failure(result, took)
    assert "closed the connection at once" in line and "security.protocol=SSL" in line


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("command", ["consume", "peek", "commit"])
def test_a_refused_login_is_said_at_once(
    auth_broker: EmbeddedBroker, mechanism: str, command: str
) -> None:
    """aiokafka let this escape as KeyError: 'v', a traceback, on every command."""
    login = ("--sasl-mechanism", mechanism, "--sasl-username", "alice",
             "--sasl-password", "wrong", "-b", auth_broker.bootstrap)  # fmt: skip
    args = {
        "consume": ("consume", "any", "-e"),
        "peek": ("peek", "g", "any"),
        "commit": ("commit", "g", "any", "--to", "0"),
    }[command]
    result, took = kconsume(*args, *login)
    line = assert_one_line_failure(result, took)
    assert f"refused the SASL {mechanism} login of 'alice'" in line


def test_a_mechanism_the_broker_lacks_is_said_at_once(auth_broker: EmbeddedBroker) -> None:
    result, took = kconsume("consume", "any", "-b", auth_broker.bootstrap, "-e",
                            "--sasl-mechanism", "PLAIN", "--sasl-username", "alice",
                            "--sasl-password", "pw")  # fmt: skip
    line = assert_one_line_failure(result, took)
    assert "SASL PLAIN" in line


def test_no_login_against_an_authenticating_broker_is_said_at_once(
    auth_broker: EmbeddedBroker,
) -> None:
    result, took = kconsume("consume", "any", "-b", auth_broker.bootstrap, "-e")
    line = assert_one_line_failure(result, took)
    assert "SASL login" in line


def test_tls_front_refuses_half_a_pair(certs: Certs, tmp_path: Path) -> None:
    from kconsume.broker import BrokerError

    with pytest.raises(BrokerError, match="both"):
        EmbeddedBroker(cert=certs.server_cert)
