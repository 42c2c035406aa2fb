from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from kconsume.broker import EmbeddedBroker

_topic_ids = itertools.count()


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One real Kafka-protocol broker (Tansu) on a free port for the whole session."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test (the broker is shared by the session)."""
    return f"t{next(_topic_ids)}-{request.node.name[:40].replace('[', '-').rstrip(']')}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and "broker" in getattr(item, "fixturenames", ()):
        broker = item.funcargs.get("broker")  # type: ignore[attr-defined]
        if isinstance(broker, EmbeddedBroker):
            report.sections.append(("broker log", broker.log_text(5000) or "(empty)"))
