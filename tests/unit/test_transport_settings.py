"""Broker URLs and client settings for the aiokafka transport."""

from __future__ import annotations

import ssl

import pytest

from kconsume.engine import KConsumeError
from kconsume.engine.transport.aiokafka import bootstrap_servers, client_settings


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("kafka://a:9092", ["a:9092"]),
        ("kafka://a:9092,b:9093", ["a:9092", "b:9093"]),
        ("a:1,b", ["a:1", "b:9092"]),
        ("kafka://broker/", ["broker:9092"]),
    ],
)
def test_bootstrap_servers(url: str, servers: list[str]) -> None:
    assert bootstrap_servers(url) == servers


@pytest.mark.parametrize("url", ["http://a:9092", "kafka://", ""])
def test_bad_broker_urls_are_clear_errors(url: str) -> None:
    with pytest.raises(KConsumeError):
        bootstrap_servers(url)


def test_sasl_settings_pass_through_and_ssl_gets_a_context() -> None:
    settings = client_settings(
        {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "u",
            "sasl_plain_password": "p",
            "not_a_client_setting": 1,
        }
    )
    assert settings["sasl_mechanism"] == "SCRAM-SHA-512"
    assert settings["sasl_plain_username"] == "u"
    assert isinstance(settings["ssl_context"], ssl.SSLContext)
    assert "not_a_client_setting" not in settings


def test_plaintext_needs_no_ssl_context() -> None:
    assert client_settings({"request_timeout_ms": 1000}) == {"request_timeout_ms": 1000}


def test_fetch_wait_is_short_unless_told_otherwise() -> None:
    from kconsume.engine.transport.aiokafka import AIOKafkaDriver, AIOKafkaTransport
    from tests.fakes import FakeTransport

    handler = FakeTransport().create_consumer  # any object: the driver only stores it
    default = AIOKafkaTransport("kafka://a:9092").create_driver(handler)  # type: ignore[arg-type]
    mine = AIOKafkaTransport("kafka://a:9092", fetch_max_wait_ms=20).create_driver(handler)  # type: ignore[arg-type]
    assert isinstance(default, AIOKafkaDriver) and isinstance(mine, AIOKafkaDriver)
    assert default._client_settings["fetch_max_wait_ms"] == 100
    assert mine._client_settings["fetch_max_wait_ms"] == 20


def test_one_getmany_hands_over_a_bounded_number_of_records_unless_told_otherwise() -> None:
    """Without a limit, one aiokafka getmany builds every record of a 50 MB fetch at once:
    that, not the engine, set the peak memory (bench/long_run.py)."""
    from kconsume.engine.transport.aiokafka import (
        DEFAULT_MAX_POLL_RECORDS,
        AIOKafkaDriver,
        AIOKafkaTransport,
    )
    from tests.fakes import FakeTransport

    handler = FakeTransport().create_consumer
    default = AIOKafkaTransport("kafka://a:9092").create_driver(handler)  # type: ignore[arg-type]
    mine = AIOKafkaTransport("kafka://a:9092", max_poll_records=500).create_driver(handler)  # type: ignore[arg-type]
    assert isinstance(default, AIOKafkaDriver) and isinstance(mine, AIOKafkaDriver)
    assert default._client_settings["max_poll_records"] == DEFAULT_MAX_POLL_RECORDS
    assert mine._client_settings["max_poll_records"] == 500
