"""What ``consume`` and ``tail`` are asked to read, checked before connecting.

:class:`ConsumeOptions` is the one description of a reading run that both commands
take; :func:`prepare` finds every usage error in it before a broker is contacted, and
:func:`engine_app` builds the engine App it describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import App, StartAt
from ..records.decoding import output_codec
from ..records.filters import Script, Where, compile_where, load_script, make_prefilter
from ..records.output import Formatter, make_formatter
from ..schemas import SchemaSettings

__all__ = ["ConsumeOptions", "Prepared", "engine_app", "prepare"]


@dataclass(slots=True)
class ConsumeOptions:
    topics: list[str]
    broker: str = "kafka://localhost:9092"
    group: str | None = None
    offset: StartAt | None = None
    """Where partitions without a committed offset start (default: end)."""
    partitions: list[int] | None = None
    exit_at_end: bool = False
    count: int | None = None
    until_ms: int | None = None
    key_format: str = "auto"
    value_format: str = "auto"
    output_format: str = "jsonl"
    color: bool = False
    where: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    greps: list[str] = field(default_factory=list)
    script: Path | None = None
    strict: bool = False
    stats: bool = False
    progress: bool = False
    commit_interval: float = 1.0
    broker_settings: dict[str, Any] = field(default_factory=dict)
    observe: str | None = None
    """Serve the observe endpoint here (``--observe``)."""
    observe_token: str | None = field(default=None, repr=False)
    schemas: SchemaSettings = field(default_factory=SchemaSettings)
    """Where Avro, Protobuf and JSON Schema schemas come from."""


@dataclass(slots=True)
class Prepared:
    formatter: Formatter
    where: Where | None
    script: Script | None


def prepare(options: ConsumeOptions) -> Prepared:
    """Check and compile everything that can be wrong before connecting.

    Raises ``FilterSyntaxError`` or ``ValueError`` (bad usage).
    """
    make_prefilter(options.headers, options.greps)
    output_codec(options.key_format, options.schemas, key=True)
    output_codec(options.value_format, options.schemas)
    return Prepared(
        make_formatter(options.output_format, color=options.color),
        compile_where(options.where),
        load_script(options.script) if options.script is not None else None,
    )


def engine_app(options: ConsumeOptions) -> App:
    """The engine App the options describe (``consume`` and ``tail`` alike)."""
    return App(
        options.broker,
        group_id=options.group,
        partitions=options.partitions,
        start_at=options.offset or StartAt("end"),
        commit_interval=options.commit_interval,
        stop_drain_timeout=2.0,
        observe=options.observe,
        observe_token=options.observe_token,
        **options.broker_settings,
    )
