"""``kconsume peek``: the records around a group's committed offset (kaf's ``group peek``)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated

import typer

from ..errors import KConsumeError
from ..groups import PeekWriter, Selection, open_session, peek
from ..schemas import MissingExtraError
from . import options as o
from .errors import EXIT_USAGE, fail, run_async

GroupArg = Annotated[
    str, typer.Argument(metavar="GROUP", help="The consumer group.", show_default=False)
]
TargetArg = Annotated[
    str,
    typer.Argument(
        metavar="TOPIC[:PARTITION]",
        help="A topic, or some of its partitions: orders, orders:2, orders:0,2.",
        show_default=False,
    ),
]


def selection(spec: str) -> Selection:
    try:
        return Selection.parse(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'TOPIC[:PARTITION]'") from None


def peek_command(
    group: GroupArg,
    target: TargetArg,
    before: Annotated[
        int,
        typer.Option("-B", "--before", min=0, help="Records before the committed offset."),
    ] = 2,
    after: Annotated[
        int,
        typer.Option(
            "-A",
            "--after",
            min=0,
            help="Records after the next one (the one at the committed offset).",
        ),
    ] = 3,
    broker: o.Broker = "localhost:9092",
    security_protocol: o.SecurityProtocol = None,
    sasl_mechanism: o.SaslMechanism = None,
    sasl_username: o.SaslUsername = None,
    sasl_password: o.SaslPassword = None,
    ssl_cafile: o.SslFile = None,
    ssl_certfile: o.SslFile = None,
    ssl_keyfile: o.SslFile = None,
    config: o.ClientConfig = None,
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
            help='jsonl (adds "peek": before|next|after) | pretty (marks the next record) | '
            "raw | a template, which may use {peek}. Default: pretty on a terminal, else jsonl.",
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
) -> None:
    """Show the records around GROUP's committed offset on TOPIC: -B before it, the
    next one the group will read (marked), and -A after that.

    Reads without joining the group: peeking never moves or disturbs it.
    Partitions the group has no committed offset for are skipped (said on stderr).
    """  # fmt: skip
    chosen = selection(target)
    stdout_tty = sys.stdout.isatty()
    schemas = o.schema_settings(registry, config, schema, proto_descriptor, proto_message)
    try:
        writer = PeekWriter(
            group,
            output_format or ("pretty" if stdout_tty else "jsonl"),
            color=stdout_tty if color is None else color,
            key_format=key_format.value,
            value_format=o.value_format(value_format, schemas),
            schemas=schemas,
        )
    except (ValueError, MissingExtraError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    settings = o.broker_settings(
        config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
        ssl_cafile, ssl_certfile, ssl_keyfile,
    )  # fmt: skip

    async def main() -> None:
        async with open_session(broker, group, chosen, settings) as session:
            peeked, missing = await peek(session, before, after)
        if not peeked:
            partitions = ", ".join(str(tp.partition) for tp in missing)
            raise KConsumeError(
                f"group {group} has no committed offset on {chosen.topic} "
                f"(partition{'s' if len(missing) != 1 else ''} {partitions})"
            )
        for tp in missing:
            print(
                f"kconsume: {tp}: group {group} has no committed offset: skipped", file=sys.stderr
            )
        out = sys.stdout.buffer
        try:
            for part in peeked:
                note = part.note()
                if note and not (writer.pretty and part.committed == part.log_end):  # marked there
                    print(f"kconsume: {part.tp}: {note}", file=sys.stderr)
                out.write(writer.partition(part))
            out.flush()
        except BrokenPipeError:  # the reader left (| head): nothing more to say
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    run_async(main())
