from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from hypothesis import settings

from tests.brokers import BROKER_KIND, BROKER_KINDS, CLIENTS, Broker, new_broker

_topic_ids = itertools.count()

# In CI, property and fuzz tests replay the same examples every run (derandomized): a
# green run stays green, and new inputs are explored on developers' machines, where a
# failing one becomes an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    if BROKER_KIND not in BROKER_KINDS:
        raise pytest.UsageError(
            f"KCONSUME_TEST_BROKER={BROKER_KIND!r}: use one of {', '.join(BROKER_KINDS)}"
        )


def pytest_report_header(config: pytest.Config) -> str:
    if BROKER_KIND == "kafka":
        from tests.apache_kafka import version

        return f"broker: Apache Kafka {version()} (KRaft, KCONSUME_TEST_BROKER=kafka)"
    return "broker: Tansu (embedded; KCONSUME_TEST_BROKER=kafka runs Apache Kafka instead)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests that only one of the two brokers can run, saying why."""
    for item in items:
        if BROKER_KIND != "kafka" and (mark := item.get_closest_marker("kafka_only")):
            why = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "")
            item.add_marker(
                pytest.mark.skip(reason=f"Apache Kafka only (make test-kafka): {why}".rstrip(": "))
            )
        if BROKER_KIND != "tansu" and (mark := item.get_closest_marker("tansu_only")):
            why = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "")
            item.add_marker(pytest.mark.skip(reason=f"Tansu only: {why}".rstrip(": ")))


@pytest.fixture(scope="session")
def broker_kind() -> str:
    """``tansu`` or ``kafka``: the broker the session's tests run against."""
    return BROKER_KIND


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """One real Kafka-protocol broker on a free port for the whole session: Tansu, or
    Apache Kafka with ``KCONSUME_TEST_BROKER=kafka``."""
    with new_broker() as running:
        yield running


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Kafka client a transport-facing test runs on: ``aiokafka`` or ``librdkafka``.

    Sets ``KCONSUME_CLIENT``, so ``kconsume consume``/``tail`` processes the test starts
    use it (``--client``), and ``tests.brokers.client_url`` gives the App URL for it.
    """
    if request.param not in ("aiokafka", "librdkafka"):
        raise pytest.UsageError(f"KCONSUME_TEST_CLIENTS: unknown client {request.param!r}")
    monkeypatch.setenv("KCONSUME_CLIENT", request.param)
    return str(request.param)


@pytest.fixture
def make_broker() -> Callable[[], AbstractContextManager[Broker]]:
    """A broker of this run's kind, of the test's own (to stop it, for one)."""
    return new_broker


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test (the broker is shared by the session)."""
    name = request.node.name[:40].replace("[", "-").rstrip("]")
    # Apache Kafka takes only [a-zA-Z0-9._-] in topic names (Tansu takes anything)
    return f"t{next(_topic_ids)}-{re.sub(r'[^a-zA-Z0-9._-]', '-', name)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and "broker" in getattr(item, "fixturenames", ()):
        broker = item.funcargs.get("broker")  # type: ignore[attr-defined]
        if broker is not None and hasattr(broker, "log_text"):
            report.sections.append(("broker log", broker.log_text(5000) or "(empty)"))
