"""Options shared by ``consume`` and ``tail``: broker, start/stop, decoding, filters.

Each option is an ``Annotated`` alias so both commands declare it the same way;
:func:`consume_options` turns the parsed values into :class:`ConsumeOptions`,
checking everything that can be checked before connecting.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..consume import ConsumeOptions, FilterSyntaxError, prepare
from ..engine.observing import ObserveConfigError, ObserveSettings
from ..engine.positions import StartAt, parse_time_ms
from ..engine.transport.aiokafka import PASSTHROUGH, bootstrap_servers, client_settings
from ..errors import KConsumeError
from ..schemas import MissingExtraError, RegistrySettings, SchemaSettings
from .errors import EXIT_USAGE, fail

KAFKA = "Kafka"
START = "Where to start and stop"
DECODE = "Decoding and output"
FILTER = "Filters"
OBSERVE = "Observing (docs/attach.md)"


class ClientName(StrEnum):
    aiokafka = "aiokafka"
    librdkafka = "librdkafka"


class Format(StrEnum):
    auto = "auto"
    json = "json"
    str = "str"
    raw = "raw"
    int = "int"
    avro = "avro"
    protobuf = "protobuf"
    jsonschema = "jsonschema"


Topics = Annotated[
    list[str], typer.Argument(metavar="TOPIC", help="Topics to consume.", show_default=False)
]
Broker = Annotated[
    str,
    typer.Option(
        "-b", "--broker", envvar="KCONSUME_BROKER", help="host:port[,host:port]",
        rich_help_panel=KAFKA, callback=lambda value: broker_address(value),
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
Client = Annotated[
    ClientName,
    typer.Option(
        "--client", envvar="KCONSUME_CLIENT", rich_help_panel=KAFKA,
        help="The Kafka client: aiokafka, or librdkafka (confluent-kafka; -X then takes "
        "librdkafka's own settings, as kcat). docs/cli.md#clients.",
    ),
]  # fmt: skip
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
        max=2**31 - 1, rich_help_panel=START,
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
ValueFormat = Annotated[
    Format,
    typer.Option(
        rich_help_panel=DECODE,
        help="auto recognises JSON, text, and the Confluent wire format (decoded with "
        "--registry). avro, protobuf, jsonschema: see docs/schemas.md.",
    ),
]
Registry = Annotated[
    str | None,
    typer.Option(
        "--registry", "-r", envvar="KCONSUME_SCHEMA_REGISTRY", rich_help_panel=DECODE,
        help="Schema Registry URL (kcat's -r) for Avro, Protobuf and JSON Schema. Auth and "
        "TLS: -X schema.registry.* (docs/schemas.md).",
    ),
]  # fmt: skip
SchemaFile = Annotated[
    Path | None,
    typer.Option(
        "--schema", exists=True, dir_okay=False, rich_help_panel=DECODE,
        help="An Avro schema (.avsc) for values, without a registry (implies "
        "--value-format avro).",
    ),
]  # fmt: skip
ProtoDescriptor = Annotated[
    Path | None,
    typer.Option(
        "--proto-descriptor", exists=True, dir_okay=False, rich_help_panel=DECODE,
        help="A Protobuf FileDescriptorSet (protoc --include_imports --descriptor_set_out) "
        "for values, without a registry; with --proto-message.",
    ),
]  # fmt: skip
ProtoMessage = Annotated[
    str | None,
    typer.Option(
        "--proto-message", rich_help_panel=DECODE,
        help="The value's message type in --proto-descriptor (package.Message).",
    ),
]  # fmt: skip
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
        "--grep", help="Regex on the raw key and value bytes, before decoding "
        "(repeatable: ANDed).",
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


#: Settings given as ``-X`` that hold numbers (Kafka's int32s), with their least value.
_INT_SETTINGS = {
    **{k: 1 for k in PASSTHROUGH if k.endswith("_ms")},
    "fetch_max_wait_ms": 0,
    "max_poll_records": 1,
    "fetch_max_bytes": 1,
    "max_partition_fetch_bytes": 1,
}
_INT32_MAX = 2**31 - 1
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI")
_CHOICES: dict[str, tuple[str, ...]] = {
    "security_protocol": SECURITY_PROTOCOLS,
    "sasl_mechanism": SASL_MECHANISMS,
    "isolation_level": ("read_committed", "read_uncommitted"),
}
_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
#: ``-X`` names: the client's own (dots or underscores), and kcat's (librdkafka's) for
#: the same things.
_X_NAMES: dict[str, str] = {
    **{k: k for k in PASSTHROUGH - {"ssl_context", "sasl_oauth_token_provider"}},
    **{k: k for k in (*_FILES, "ssl_password")},
    "ssl_ca_location": "ssl_cafile",
    "ssl_certificate_location": "ssl_certfile",
    "ssl_key_location": "ssl_keyfile",
    "ssl_key_password": "ssl_password",
    "sasl_mechanisms": "sasl_mechanism",
    "sasl_username": "sasl_plain_username",
    "sasl_password": "sasl_plain_password",
}


def _bad(message: str, hint: str = "'-X'") -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=hint)


def _setting_value(key: str, text: str, shown: str, hint: str = "'-X'") -> Any:
    """The value of one setting, checked: numbers, choices and files."""
    text = text.strip()
    if key in _INT_SETTINGS:
        least = _INT_SETTINGS[key]
        if not re.fullmatch(r"[0-9]{1,10}", text) or not least <= int(text) <= _INT32_MAX:
            raise _bad(f"{shown}={text!r}: a whole number from {least} to {_INT32_MAX}", hint)
        return int(text)
    if key in _CHOICES:
        choices = _CHOICES[key]
        wanted = text.upper() if key != "isolation_level" else text.lower()
        if wanted not in choices:
            raise _bad(f"{shown}={text!r}: use one of {', '.join(choices)}", hint)
        return wanted
    if key in _FILES and not Path(text).is_file():
        raise _bad(f"{shown}={text!r}: no such file", hint)
    return text


def security_settings(
    security_protocol: str | None,
    sasl_mechanism: str | None,
    sasl_username: str | None,
    sasl_password: str | None,
    ssl_cafile: Path | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> dict[str, Any]:
    """Transport settings from the Kafka options (only those given), checked."""
    settings: dict[str, Any] = {
        "sasl_plain_username": sasl_username,
        "sasl_plain_password": sasl_password,
        "ssl_cafile": str(ssl_cafile) if ssl_cafile else None,
        "ssl_certfile": str(ssl_certfile) if ssl_certfile else None,
        "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None,
    }
    if security_protocol is not None:
        settings["security_protocol"] = _setting_value(
            "security_protocol", security_protocol, "--security-protocol", "'--security-protocol'"
        )
    if sasl_mechanism is not None:
        settings["sasl_mechanism"] = _setting_value(
            "sasl_mechanism", sasl_mechanism, "--sasl-mechanism", "'--sasl-mechanism'"
        )
    return {k: v for k, v in settings.items() if v is not None}


def client_config(specs: list[str] | None) -> dict[str, Any]:
    """``-X name=value`` settings (dots or underscores; kcat's names too), checked.

    ``schema.registry.*`` settings are :func:`schema_settings`'s, skipped here.
    """
    out: dict[str, Any] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if _registry_key(name) is not None:
            continue
        key = _X_NAMES.get(name.strip().replace(".", "_").replace("-", "_").lower())
        if not sep or key is None:
            known = ", ".join(sorted(k.replace("_", ".") for k in _X_NAMES))
            raise _bad(f"{spec!r}: use NAME=VALUE with NAME one of {known}")
        out[key] = _setting_value(key, value, name.strip())
    return out


def client_url(broker: str, client: ClientName) -> str:
    """The engine's broker URL for ``-b`` and ``--client``: ``rdkafka://`` picks librdkafka."""
    if client is not ClientName.librdkafka:
        return broker
    return "rdkafka://" + ",".join(bootstrap_servers(broker))


def librdkafka_config(specs: list[str] | None) -> dict[str, str]:
    """``-X name=value`` in librdkafka's own names, checked by librdkafka itself.

    librdkafka parses the settings when a client is created (no connection is made
    without ``bootstrap.servers``): an unknown name or a bad value is a usage error
    here, in librdkafka's words.  ``schema.registry.*`` settings are skipped.
    """
    out: dict[str, str] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if _registry_key(name) is not None:
            continue
        if not sep or not name.strip():
            raise _bad(f"{spec!r}: use NAME=VALUE (librdkafka's names, as kcat's -X)")
        out[name.strip()] = value.strip()
    if out:
        from confluent_kafka import Consumer, KafkaException

        try:
            Consumer({"group.id": "kconsume-check", "log_level": 0, **out}).close()
        except KafkaException as exc:
            raise _bad(f"librdkafka: {exc.args[0].str()}") from None
        except (TypeError, ValueError) as exc:
            raise _bad(f"librdkafka: {exc}") from None
    return out


def broker_settings(
    config: list[str] | None,
    security_protocol: str | None,
    sasl_mechanism: str | None,
    sasl_username: str | None,
    sasl_password: str | None,
    ssl_cafile: Path | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    client: ClientName = ClientName.aiokafka,
) -> dict[str, Any]:
    """The client settings of ``-X`` and the Kafka options together, checked as a whole.

    With ``client`` librdkafka, ``-X`` holds librdkafka's own names (``config``); the
    Kafka options (``--security-protocol``, ``--sasl-*``, ``--ssl-*``) mean the same on
    both clients, and the librdkafka transport maps them to librdkafka's names.

    SASL without a protocol means ``SASL_PLAINTEXT`` (``SASL_SSL`` with TLS files);
    TLS files without one mean ``SSL``.  The TLS files are loaded now, so a file that
    is not a certificate or key is a usage error, not a failure after connecting.
    """
    native = client is ClientName.librdkafka
    settings = {
        **(client_config(config) if not native else {}),
        **security_settings(
            security_protocol, sasl_mechanism, sasl_username, sasl_password,
            ssl_cafile, ssl_certfile, ssl_keyfile,
        ),
    }  # fmt: skip
    tls_files = any(settings.get(k) for k in _FILES)
    mechanism = settings.get("sasl_mechanism")
    if "security_protocol" not in settings and mechanism is not None:
        settings["security_protocol"] = "SASL_SSL" if tls_files else "SASL_PLAINTEXT"
    protocol = settings.get("security_protocol", "SSL" if tls_files else "PLAINTEXT")
    if protocol.startswith("SASL_"):
        if mechanism is None:
            raise _bad(f"{protocol} needs a mechanism", "'--sasl-mechanism'")
        missing = [
            option
            for option, key in (
                ("--sasl-username", "sasl_plain_username"),
                ("--sasl-password", "sasl_plain_password"),
            )
            if key not in settings
        ]
        if mechanism != "GSSAPI" and missing:
            raise _bad(f"SASL {mechanism} needs {' and '.join(missing)}", f"'{missing[0]}'")
    try:
        client_settings(settings)  # builds the TLS context: reads the files
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        files = ", ".join(str(settings[k]) for k in _FILES if settings.get(k))
        raise _bad(f"cannot use the TLS files ({files}): {reason}", "TLS") from None
    if native:
        settings["config"] = librdkafka_config(config)
    return settings


#: ``-X schema.registry.NAME`` (confluent-kafka's and kcat's names) -> RegistrySettings field.
_REGISTRY_NAMES = {
    "url": "url",
    "basic.auth.user.info": "user_info",
    "ssl.ca.location": "ca_location",
    "ssl.certificate.location": "certificate_location",
    "ssl.key.location": "key_location",
    "ssl.key.password": "key_password",
    "timeout.ms": "timeout",
    "request.timeout.ms": "timeout",
    "basic.auth.credentials.source": "",
}


def _registry_key(name: str) -> str | None:
    """The ``schema.registry.`` setting's own name, or None for another setting."""
    name = name.strip().lower().replace("_", ".")
    return name.removeprefix("schema.registry.") if name.startswith("schema.registry.") else None


def schema_settings(
    registry: str | None,
    config: list[str] | None,
    schema: Path | None = None,
    proto_descriptor: Path | None = None,
    proto_message: str | None = None,
) -> SchemaSettings:
    """Where schemas come from: ``--registry`` and ``-X schema.registry.*``, local files.

    A bad setting is a usage error (exit 2).
    """
    fields: dict[str, Any] = {}
    for spec in config or []:
        name, _, value = spec.partition("=")
        key = _registry_key(name)
        if key is None:
            continue
        field = _REGISTRY_NAMES.get(key)
        shown = name.strip()
        if field is None:
            known = ", ".join(f"schema.registry.{k}" for k in _REGISTRY_NAMES)
            raise _bad(f"{spec!r}: unknown registry setting (known: {known})")
        value = value.strip()
        if field == "":  # credentials.source: USER_INFO is the only one supported
            if value.upper() not in ("USER_INFO", "URL"):
                raise _bad(f"{shown}={value!r}: kconsume supports USER_INFO (and URL)")
            continue
        if field == "timeout":
            if not re.fullmatch(r"[0-9]{1,7}", value) or int(value) < 1:
                raise _bad(f"{shown}={value!r}: milliseconds, a whole number from 1")
            fields[field] = int(value) / 1000
            continue
        if field.endswith("_location") and not Path(value).is_file():
            raise _bad(f"{shown}={value!r}: no such file")
        fields[field] = value
    if registry is not None:
        fields["url"] = registry
    url = fields.get("url")
    if url is None and len(fields) > 0:
        raise _bad("schema.registry.* settings need --registry URL", "'--registry'")
    registry_settings = None
    if url is not None:
        user_info = fields.get("user_info")
        parsed = urllib.parse.urlsplit(url.split(",")[0].strip())
        try:
            parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise _bad(f"{url!r}: the port is not a number", "'--registry'") from None
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise _bad(f"{url!r}: use http(s)://HOST:PORT", "'--registry'")
        if parsed.username is not None and user_info is None:  # http://user:pass@host (URL)
            user_info = f"{urllib.parse.unquote(parsed.username)}:"
            user_info += urllib.parse.unquote(parsed.password or "")
            url = parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()
        fields["url"], fields["user_info"] = url, user_info
        registry_settings = RegistrySettings(**fields)
    if (proto_descriptor is None) != (proto_message is None):
        raise _bad("--proto-descriptor and --proto-message go together", "'--proto-message'")
    return SchemaSettings(registry_settings, schema, proto_descriptor, proto_message)


def value_format(chosen: Format, schemas: SchemaSettings) -> str:
    """``--value-format``: ``auto`` with ``--schema`` means avro, with ``--proto-*`` protobuf."""
    if chosen is Format.auto and schemas.avro_schema is not None:
        return "avro"
    if chosen is Format.auto and schemas.proto_descriptor is not None:
        return "protobuf"
    return chosen.value


def broker_address(value: str) -> str:
    """``-b``: ``HOST:PORT[,HOST:PORT]`` (or ``kafka://...``); BadParameter if it is not."""
    try:
        servers = bootstrap_servers(value)
    except KConsumeError as exc:
        raise _bad(str(exc), "'-b' / '--broker'") from None
    for server in servers:
        host, _, port = server.rpartition(":")
        if (
            not host
            or any(c.isspace() for c in host)
            or not re.fullmatch(r"[0-9]{1,5}", port)
            or not 0 < int(port) < 65536
        ):
            raise _bad(f"bad broker address {server!r}: use HOST:PORT", "'-b' / '--broker'")
    return value


def checked(options: ConsumeOptions) -> ConsumeOptions:
    """Compile filters and formats now: a usage error exits 2 before connecting."""
    try:
        prepare(options)
    except (FilterSyntaxError, ValueError, MissingExtraError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    return options
