"""Settings and URLs of the librdkafka transport, and ``--client`` on the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kconsume.cli import app as cli
from kconsume.engine import KConsumeError
from kconsume.engine.app import transport_for
from kconsume.engine.transport.aiokafka import AIOKafkaTransport
from kconsume.engine.transport.rdkafka import (
    DEFAULT_BATCH,
    RdKafkaTransport,
    bootstrap,
    rdkafka_config,
)

runner = CliRunner()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rdkafka://a:9092", RdKafkaTransport),
        ("librdkafka://a:9092", RdKafkaTransport),
        ("kafka://a:9092", AIOKafkaTransport),
        ("a:9092", AIOKafkaTransport),
    ],
)
def test_the_url_scheme_picks_the_client(url: str, kind: type) -> None:
    assert transport_for(url) is kind


def test_bootstrap_list_for_librdkafka() -> None:
    assert bootstrap("rdkafka://a:1,b") == "a:1,b:9092"
    with pytest.raises(KConsumeError, match="rdkafka://"):
        bootstrap("kafka://a:1")


def test_aiokafka_names_map_to_librdkafka_and_config_passes_as_is() -> None:
    config, batch = rdkafka_config(
        {
            "session_timeout_ms": 2000,
            "sasl_plain_username": "app",
            "ssl_cafile": "/ca.pem",
            "security_protocol": "SASL_SSL",
            "max_poll_records": 20,
            "rebalance_timeout_ms": 1,  # aiokafka's alone: dropped
            "fetch_queue_backoff_ms": 5,  # a librdkafka name with underscores
            "config": {"debug": "cgrp", "fetch.wait.max.ms": "50"},
        }
    )
    assert config == {
        "session.timeout.ms": 2000,
        "sasl.username": "app",
        "ssl.ca.location": "/ca.pem",
        "security.protocol": "SASL_SSL",
        "fetch.queue.backoff.ms": 5,
        "debug": "cgrp",
        "fetch.wait.max.ms": "50",
    }
    assert batch == 20
    assert rdkafka_config({})[1] == DEFAULT_BATCH


def test_an_aiokafka_object_setting_is_refused_with_the_way_out() -> None:
    with pytest.raises(KConsumeError, match="librdkafka"):
        rdkafka_config({"ssl_context": object()})


@pytest.mark.parametrize(
    ("x", "said"),
    [
        ("no.such.setting=1", "No such configuration property"),
        ("fetch.wait.max.ms=soon", "Invalid value"),
        ("justaname", "NAME=VALUE"),
    ],
)
def test_librdkafka_settings_are_checked_by_librdkafka_before_connecting(x: str, said: str) -> None:
    result = runner.invoke(
        cli, ["consume", "t", "-b", "127.0.0.1:1", "--client", "librdkafka", "-X", x]
    )
    assert result.exit_code == 2, result.output
    assert said in result.output


def test_an_unknown_client_is_a_usage_error() -> None:
    result = runner.invoke(cli, ["consume", "t", "--client", "java"])
    assert result.exit_code == 2
    assert "java" in result.output
