"""``kconsume topics``: kcat ``-L``, with log bounds and record counts."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from ..groups.probe import GroupsProbe
from ..groups.topics import TopicsReport, read_topics
from . import options as o
from .errors import run_async
from .lag import emit, settings_from


def topics_command(
    topics: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TOPIC", help="Only these topics (default: every topic).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    broker: o.Broker = "localhost:9092",
    security_protocol: o.SecurityProtocol = None,
    sasl_mechanism: o.SaslMechanism = None,
    sasl_username: o.SaslUsername = None,
    sasl_password: o.SaslPassword = None,
    ssl_cafile: o.SslFile = None,
    ssl_certfile: o.SslFile = None,
    ssl_keyfile: o.SslFile = None,
    config: o.ClientConfig = None,
) -> None:
    """The brokers and the topics, as kcat -L lists them: per partition its leader,
    replicas and in-sync replicas, where its log starts, its highwater and the records
    between (offsets: on a compacted or transactional topic, an upper bound).

    Topics whose names start with __ (Kafka's own) are left out unless named.  An
    unknown topic is exit 1.
    """
    settings = settings_from(
        config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
        ssl_cafile, ssl_certfile, ssl_keyfile,
    )  # fmt: skip

    async def main() -> TopicsReport:
        async with GroupsProbe(broker, settings) as probe:
            return await read_topics(probe, topics or None)

    report = run_async(main())
    if report is None:
        return
    if as_json:
        emit(orjson.dumps(report.to_json(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        emit(report.render())
