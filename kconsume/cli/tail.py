"""``kconsume tail``: the live dashboard of topics and of the consumer engine at work."""

from __future__ import annotations

from typing import Annotated

import typer

from ..consume import ConsumeOptions
from . import options as o
from .errors import EXIT_USAGE, fail, run_async

DASHBOARD = "Dashboard"

Theme = Annotated[
    str,
    typer.Option(
        "--theme", rich_help_panel=DASHBOARD,
        help="dark | light | the path of a .tcss theme file.",
    ),
]  # fmt: skip
BufferSize = Annotated[
    int,
    typer.Option(
        "--buffer", min=100, rich_help_panel=DASHBOARD,
        help="Newest messages kept in the dashboard (older ones fall off).",
    ),
]  # fmt: skip


def tail_command(
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
    key_format: o.KeyFormat = o.Format.auto,
    value_format: o.ValueFormat = o.Format.auto,
    registry: o.Registry = None,
    schema: o.SchemaFile = None,
    proto_descriptor: o.ProtoDescriptor = None,
    proto_message: o.ProtoMessage = None,
    where: o.Where = None,
    header: o.Header = None,
    grep: o.Grep = None,
    script: o.Script = None,
    observe: o.Observe = None,
    observe_token: o.ObserveToken = None,
    theme: Theme = "dark",
    buffer: BufferSize = 10_000,
) -> None:
    """Tail TOPICs in a live dashboard: messages, and what the consumer engine does with them.

    Partitions with committed offset, lag, in-flight messages and the ribbon of the
    uncommitted window; streams; the newest messages (Enter opens one); engine events.
    --where sets the dashboard's first filter (f changes it).  Without -g nothing is
    committed; with -g a message counts as done once the dashboard has it.

    Keys: p pause, / search, f filter, o jump to an offset or a time, Enter open a
    message (x hex, y copy, w save as JSON), b the record blocking a commit, c commit
    now, g consumer groups, 1-5 show/hide panels, ? help, q quit.
    """
    from ..tui.themes import ThemeNotFoundError, resolve_theme

    try:
        theme_path = resolve_theme(theme)
    except ThemeNotFoundError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
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
            key_format=key_format.value,
            value_format=o.value_format(value_format, schemas),
            where=where or [],
            headers=header or [],
            greps=grep or [],
            script=script,
            schemas=schemas,
            broker_settings=o.broker_settings(
                config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
                ssl_cafile, ssl_certfile, ssl_keyfile, client,
            ),
        )
    )  # fmt: skip
    from ..tui.run import run_tail

    failure = run_async(run_tail(options, theme=theme_path, buffer_size=buffer))
    if failure:
        raise fail(failure)
