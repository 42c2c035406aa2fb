"""``kconsume consume``: kcat's consumer, with filters and safe group commits."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..consume import ConsumeOptions, FilterSyntaxError, prepare, run_consume
from ..engine.positions import StartAt, parse_time_ms
from .errors import EXIT_USAGE, fail, run_async

KAFKA = "Kafka"
START = "Where to start and stop"
DECODE = "Decoding and output"
FILTER = "Filters"


class Format(StrEnum):
    auto = "auto"
    json = "json"
    str = "str"
    raw = "raw"
    int = "int"


def _start(value: str | None) -> StartAt | None:
    if value is None:
        return None
    try:
        return StartAt.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _until(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_time_ms(value.removeprefix("@"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def consume_command(
    topics: Annotated[list[str], typer.Argument(help="Topics to consume.", show_default=False)],
    broker: Annotated[
        str,
        typer.Option(
            "-b",
            "--broker",
            envvar="KCONSUME_BROKER",
            help="host:port[,host:port]",
            rich_help_panel=KAFKA,
        ),
    ] = "localhost:9092",
    group: Annotated[
        str | None,
        typer.Option(
            "-g",
            "--group",
            help="Join this consumer group and commit what is written "
            "(without it: observe only, never commit).",
            rich_help_panel=KAFKA,
        ),
    ] = None,
    security_protocol: Annotated[
        str | None,
        typer.Option(help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.", rich_help_panel=KAFKA),
    ] = None,
    sasl_mechanism: Annotated[
        str | None,
        typer.Option(help="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, ...", rich_help_panel=KAFKA),
    ] = None,
    sasl_username: Annotated[str | None, typer.Option(rich_help_panel=KAFKA)] = None,
    sasl_password: Annotated[
        str | None, typer.Option(envvar="KCONSUME_SASL_PASSWORD", rich_help_panel=KAFKA)
    ] = None,
    ssl_cafile: Annotated[Path | None, typer.Option(exists=True, rich_help_panel=KAFKA)] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(exists=True, rich_help_panel=KAFKA)] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(exists=True, rich_help_panel=KAFKA)] = None,
    offset: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--offset",
            help="beginning | end | stored | N | -N (N before the "
            "end) | @TIME (ISO 8601 or epoch ms). With -g, only for partitions the "
            "group has no offset for. Default: end.",
            rich_help_panel=START,
        ),
    ] = None,
    partition: Annotated[
        list[int] | None,
        typer.Option(
            "-p",
            "--partition",
            help="Only this partition (repeatable).",
            min=0,
            rich_help_panel=START,
        ),
    ] = None,
    exit_at_end: Annotated[
        bool,
        typer.Option(
            "-e",
            "--exit",
            help="Stop at the end of every partition as of start-up.",
            rich_help_panel=START,
        ),
    ] = False,
    count: Annotated[
        int | None,
        typer.Option(
            "-c",
            "--count",
            min=1,
            help="Stop after N messages (counted after filtering).",
            rich_help_panel=START,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Stop each partition at the first message at or after @TIME.",
            rich_help_panel=START,
        ),
    ] = None,
    key_format: Annotated[Format, typer.Option(rich_help_panel=DECODE)] = Format.auto,
    value_format: Annotated[Format, typer.Option(rich_help_panel=DECODE)] = Format.auto,
    output_format: Annotated[
        str | None,
        typer.Option(
            "-f",
            "--format",
            help="jsonl | pretty | raw | a template like "
            "'{partition}:{offset} {key} {value}'. Default: pretty on a terminal, "
            "else jsonl.",
            rich_help_panel=DECODE,
        ),
    ] = None,
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Colour pretty output (default: on a terminal).",
            rich_help_panel=DECODE,
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="Python expression over key, value, headers, topic, "
            "partition, offset, timestamp, msg (repeatable: ANDed).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            help="NAME=VALUE: keep messages with this header, checked "
            "before decoding (repeatable: ANDed).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    grep: Annotated[
        list[str] | None,
        typer.Option(
            "--grep",
            help="Regex on the raw key and value bytes, before decoding.",
            rich_help_panel=FILTER,
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            help="File defining keep(msg) and/or transform(msg).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="A filter error stops the run (exit 1).", rich_help_panel=FILTER)
    ] = False,
    stats: Annotated[
        bool, typer.Option(help="Print counts and rate to stderr at the end.")
    ] = False,
) -> None:
    """Consume TOPICs and write the messages to stdout, like kcat -C, with filters.

    Without -g nothing is committed.  With -g the group's offsets decide where each
    partition starts, and an offset is committed only after its line is written
    and flushed (at-least-once, even through kill -9).
    """
    start = _start(offset)
    if start is not None and start.kind == "stored" and group is None:
        raise typer.BadParameter("'stored' needs a group (-g)", param_hint="'-o' / '--offset'")
    settings: dict[str, Any] = {
        "security_protocol": security_protocol,
        "sasl_mechanism": sasl_mechanism,
        "sasl_plain_username": sasl_username,
        "sasl_plain_password": sasl_password,
        "ssl_cafile": str(ssl_cafile) if ssl_cafile else None,
        "ssl_certfile": str(ssl_certfile) if ssl_certfile else None,
        "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None,
    }
    stdout_tty = sys.stdout.isatty()
    options = ConsumeOptions(
        topics=topics,
        broker=broker,
        group=group,
        offset=start,
        partitions=partition or None,
        exit_at_end=exit_at_end,
        count=count,
        until_ms=_until(until),
        key_format=key_format.value,
        value_format=value_format.value,
        output_format=output_format or ("pretty" if stdout_tty else "jsonl"),
        color=stdout_tty if color is None else color,
        where=where or [],
        headers=header or [],
        greps=grep or [],
        script=script,
        strict=strict,
        stats=stats,
        progress=sys.stderr.isatty() and (exit_at_end or count is not None),
        broker_settings={k: v for k, v in settings.items() if v is not None},
    )
    try:
        prepare(options)  # every usage error before connecting
    except (FilterSyntaxError, ValueError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    code = run_async(run_consume(options, sys.stdout.buffer, sys.stderr))
    if code:
        raise typer.Exit(code)
