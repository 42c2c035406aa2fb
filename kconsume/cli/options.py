"""Options shared by ``consume`` and ``tail``: broker, start/stop, decoding, filters.

Each option is an ``Annotated`` alias so both commands declare it the same way;
:func:`consume_options` turns the parsed values into :class:`ConsumeOptions`,
checking everything that can be checked before connecting.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..consume import ConsumeOptions, FilterSyntaxError, prepare
from ..engine.observing import ObserveConfigError, ObserveSettings
from ..engine.positions import StartAt, parse_time_ms
from ..engine.transport.aiokafka import PASSTHROUGH
from .errors import EXIT_USAGE, fail

KAFKA = "Kafka"
START = "Where to start and stop"
DECODE = "Decoding and output"
FILTER = "Filters"
OBSERVE = "Observing (docs/attach.md)"


class Format(StrEnum):
    auto = "auto"
    json = "json"
    str = "str"
    raw = "raw"
    int = "int"


Topics = Annotated[list[str], typer.Argument(help="Topics to consume.", show_default=False)]
Broker = Annotated[
    str,
    typer.Option(
        "-b", "--broker", envvar="KCONSUME_BROKER", help="host:port[,host:port]",
        rich_help_panel=KAFKA,
    ),
]  # fmt: skip
Group = Annotated[
    str | None,
    typer.Option(
        "-g", "--group", rich_help_panel=KAFKA,
        help="Join this consumer group and commit what is done (without it: observe only, "
        "never commit).",
    ),
]  # fmt: skip
SecurityProtocol = Annotated[
    str | None,
    typer.Option(help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.", rich_help_panel=KAFKA),
]
SaslMechanism = Annotated[
    str | None,
    typer.Option(help="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, ...", rich_help_panel=KAFKA),
]
SaslUsername = Annotated[str | None, typer.Option(rich_help_panel=KAFKA)]
SaslPassword = Annotated[
    str | None, typer.Option(envvar="KCONSUME_SASL_PASSWORD", rich_help_panel=KAFKA)
]
SslFile = Annotated[Path | None, typer.Option(exists=True, rich_help_panel=KAFKA)]
ClientConfig = Annotated[
    list[str] | None,
    typer.Option(
        "-X", rich_help_panel=KAFKA,
        help="Client setting NAME=VALUE, as kcat's -X (session.timeout.ms=6000, "
        "max.poll.records=500, isolation.level=read_committed, ...). Repeatable.",
    ),
]  # fmt: skip
Offset = Annotated[
    str | None,
    typer.Option(
        "-o", "--offset", rich_help_panel=START,
        help="beginning | end | stored | N | -N (N before the end) | @TIME (ISO 8601 or epoch "
        "ms). With -g, only for partitions the group has no offset for. Default: end.",
    ),
]  # fmt: skip
Partitions = Annotated[
    list[int] | None,
    typer.Option(
        "-p", "--partition", help="Only this partition (repeatable).", min=0,
        rich_help_panel=START,
    ),
]  # fmt: skip
ExitAtEnd = Annotated[
    bool,
    typer.Option(
        "-e", "--exit", help="Stop at the end of every partition as of start-up.",
        rich_help_panel=START,
    ),
]  # fmt: skip
Count = Annotated[
    int | None,
    typer.Option(
        "-c", "--count", min=1, help="Stop after N messages (counted after filtering).",
        rich_help_panel=START,
    ),
]  # fmt: skip
Until = Annotated[
    str | None,
    typer.Option(
        help="Stop each partition at the first message at or after @TIME.",
        rich_help_panel=START,
    ),
]
KeyFormat = Annotated[Format, typer.Option(rich_help_panel=DECODE)]
ValueFormat = Annotated[Format, typer.Option(rich_help_panel=DECODE)]
Where = Annotated[
    list[str] | None,
    typer.Option(
        "--where", rich_help_panel=FILTER,
        help="Python expression over key, value, headers, topic, partition, offset, "
        "timestamp, msg (repeatable: ANDed).",
    ),
]  # fmt: skip
Header = Annotated[
    list[str] | None,
    typer.Option(
        "--header", rich_help_panel=FILTER,
        help="NAME=VALUE: keep messages with this header, checked before decoding "
        "(repeatable: ANDed).",
    ),
]  # fmt: skip
Grep = Annotated[
    list[str] | None,
    typer.Option(
        "--grep", help="Regex on the raw key and value bytes, before decoding.",
        rich_help_panel=FILTER,
    ),
]  # fmt: skip
Script = Annotated[
    Path | None,
    typer.Option(
        "--script", help="File defining keep(msg) and/or transform(msg).",
        rich_help_panel=FILTER,
    ),
]  # fmt: skip
Strict = Annotated[
    bool, typer.Option(help="A filter error stops the run (exit 1).", rich_help_panel=FILTER)
]


Observe = Annotated[
    str | None,
    typer.Option(
        "--observe", metavar="ADDR", rich_help_panel=OBSERVE,
        help="Serve the engine's snapshot, events and Prometheus /metrics at ADDR "
        "(host:port; 127.0.0.1:9464). A non-loopback ADDR needs --observe-token.",
    ),
]  # fmt: skip
ObserveToken = Annotated[
    str | None,
    typer.Option(
        "--observe-token", envvar="KCONSUME_OBSERVE_TOKEN", rich_help_panel=OBSERVE,
        show_default=False,
        help="Token every request to --observe must carry (Authorization: Bearer); also "
        "enables kconsume attach --control.",
    ),
]  # fmt: skip


def observe_settings(
    address: str | None, token: str | None, *, allow_skip: bool = False
) -> ObserveSettings | None:
    """Check ``--observe``/``--observe-token`` now: a bad one exits 2 before connecting."""
    if address is None:
        return None
    try:
        return ObserveSettings.create(address, token, allow_skip=allow_skip)
    except ObserveConfigError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


def start_position(value: str | None, group: str | None) -> StartAt | None:
    if value is None:
        return None
    try:
        start = StartAt.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'-o' / '--offset'") from None
    if start.kind == "stored" and group is None:
        raise typer.BadParameter("'stored' needs a group (-g)", param_hint="'-o' / '--offset'")
    return start


def until_time(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_time_ms(value.removeprefix("@"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--until'") from None


def security_settings(
    security_protocol: str | None,
    sasl_mechanism: str | None,
    sasl_username: str | None,
    sasl_password: str | None,
    ssl_cafile: Path | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> dict[str, Any]:
    """Transport settings from the Kafka options (only those given)."""
    settings: dict[str, Any] = {
        "security_protocol": security_protocol,
        "sasl_mechanism": sasl_mechanism,
        "sasl_plain_username": sasl_username,
        "sasl_plain_password": sasl_password,
        "ssl_cafile": str(ssl_cafile) if ssl_cafile else None,
        "ssl_certfile": str(ssl_certfile) if ssl_certfile else None,
        "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None,
    }
    return {k: v for k, v in settings.items() if v is not None}


def client_config(specs: list[str] | None) -> dict[str, Any]:
    """``-X name=value`` settings (dots or underscores) for the aiokafka client."""
    out: dict[str, Any] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        key = name.strip().replace(".", "_")
        if not sep or key not in PASSTHROUGH:
            known = ", ".join(sorted(k.replace("_", ".") for k in PASSTHROUGH))
            raise typer.BadParameter(
                f"{spec!r}: use NAME=VALUE with NAME one of {known}", param_hint="'-X'"
            )
        out[key] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return out


def checked(options: ConsumeOptions) -> ConsumeOptions:
    """Compile filters and formats now: a usage error exits 2 before connecting."""
    try:
        prepare(options)
    except (FilterSyntaxError, ValueError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    return options
