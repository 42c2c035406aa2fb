"""The ``kconsume`` command: one Typer app per command group, mounted here."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from .._version import __version__
from .attach import attach_command
from .broker import broker_command
from .commit import commit_command
from .consume import consume_command
from .demo import demo_command
from .helptext import Command
from .lag import groups_command, lag_command
from .peek import peek_command
from .run import run_command
from .runtime import tune_gc
from .tail import tail_command
from .topics import topics_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="kconsume",
    help="A Kafka consumer engine you can see into.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kconsume {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """kconsume: tail topics, debug stuck commits, run filtered headless consumers."""


app.command("consume", cls=Command, rich_help_panel="Consuming")(consume_command)
app.command("tail", cls=Command, rich_help_panel="Consuming")(tail_command)
app.command("run", cls=Command, rich_help_panel="Consuming")(run_command)
app.command("attach", cls=Command, rich_help_panel="Consuming")(attach_command)
app.command("peek", cls=Command, rich_help_panel="Groups")(peek_command)
app.command("commit", cls=Command, rich_help_panel="Groups")(commit_command)
app.command("lag", cls=Command, rich_help_panel="Groups")(lag_command)
app.command("groups", cls=Command, rich_help_panel="Groups")(groups_command)
app.command("topics", cls=Command, rich_help_panel="Groups")(topics_command)
app.command("broker", cls=Command, rich_help_panel="Local development")(broker_command)
app.command("demo", cls=Command, rich_help_panel="Local development")(demo_command)


class _SaidByKconsume(logging.Filter):
    """aiokafka's "Unable connect to ..." lines, and librdkafka's log: kconsume says why it
    could not connect, in one line of its own (see ``engine/transport/diagnose.py``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "librdkafka":  # its reason is in kconsume's own line
            return False
        return not (
            record.name.startswith("aiokafka")
            and str(record.msg).startswith(("Unable connect to", "Unable to request metadata"))
        )


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_SaidByKconsume())
    tune_gc()
    app()
