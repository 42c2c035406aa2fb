"""``kconsume consume``: kcat's consumer, with filters and safe group commits."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..consume import ConsumeOptions, run_consume
from . import options as o
from .errors import run_async


def consume_command(
    topics: o.Topics,
    broker: o.Broker = "localhost:9092",
    group: o.Group = None,
    client: o.Client = o.ClientName.aiokafka,
    security_protocol: o.SecurityProtocol = None,
    sasl_mechanism: o.SaslMechanism = None,
    sasl_username: o.SaslUsername = None,
    sasl_password: o.SaslPassword = None,
    ssl_cafile: o.SslFile = None,
    ssl_certfile: o.SslFile = None,
    ssl_keyfile: o.SslFile = None,
    config: o.ClientConfig = None,
    offset: o.Offset = None,
    partition: o.Partitions = None,
    exit_at_end: o.ExitAtEnd = False,
    count: o.Count = None,
    until: o.Until = None,
    key_format: o.KeyFormat = o.Format.auto,
    value_format: o.ValueFormat = o.Format.auto,
    registry: o.Registry = None,
    schema: o.SchemaFile = None,
    proto_descriptor: o.ProtoDescriptor = None,
    proto_message: o.ProtoMessage = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "-f",
            "--format",
            rich_help_panel=o.DECODE,
            help="jsonl | pretty | raw | a template like '{partition}:{offset} {key} {value}'. "
            "Default: pretty on a terminal, else jsonl.",
        ),
    ] = None,
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Colour pretty output (default: on a terminal).",
            rich_help_panel=o.DECODE,
        ),
    ] = None,
    where: o.Where = None,
    header: o.Header = None,
    grep: o.Grep = None,
    script: o.Script = None,
    strict: o.Strict = False,
    observe: o.Observe = None,
    observe_token: o.ObserveToken = None,
    stats: Annotated[
        bool, typer.Option(help="Print counts and rate to stderr at the end.")
    ] = False,
) -> None:
    """Consume TOPICs and write the messages to stdout, like kcat -C, with filters.

    Without -g nothing is committed.  With -g the group's offsets decide where each
    partition starts, and an offset is committed only after its line is written
    and flushed (at-least-once, even through kill -9).
    """
    stdout_tty = sys.stdout.isatty()
    o.observe_settings(observe, observe_token)
    schemas = o.schema_settings(registry, config, schema, proto_descriptor, proto_message)
    options = o.checked(
        ConsumeOptions(
            topics=topics,
            broker=o.client_url(broker, client),
            group=group,
            observe=observe,
            observe_token=observe_token,
            offset=o.start_position(offset, group),
            partitions=partition or None,
            exit_at_end=exit_at_end,
            count=count,
            until_ms=o.until_time(until),
            key_format=key_format.value,
            value_format=o.value_format(value_format, schemas),
            output_format=output_format or ("pretty" if stdout_tty else "jsonl"),
            color=stdout_tty if color is None else color,
            where=where or [],
            headers=header or [],
            greps=grep or [],
            script=script,
            strict=strict,
            stats=stats,
            progress=sys.stderr.isatty() and (exit_at_end or count is not None),
            schemas=schemas,
            broker_settings=o.broker_settings(
                config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
                ssl_cafile, ssl_certfile, ssl_keyfile, client,
            ),
        )
    )  # fmt: skip
    code = run_async(run_consume(options, sys.stdout.buffer, sys.stderr))
    if code:
        raise typer.Exit(code)
