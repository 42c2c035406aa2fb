"""``kconsume attach ADDR``: the dashboard of a consumer running elsewhere (``--observe``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..engine.observing import TOKEN_ENV, ObserveConfigError
from .errors import EXIT_USAGE, fail, run_async

__all__ = ["attach_command"]


def attach_command(
    address: Annotated[
        str,
        typer.Argument(
            metavar="ADDR",
            help="The --observe address of the consumer (host:port).",
            show_default=False,
        ),
    ],
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=TOKEN_ENV,
            show_default=False,
            help="The endpoint's --observe-token.",
        ),
    ] = None,
    control: Annotated[
        bool,
        typer.Option(
            "--control",
            help="Allow pause (p), commit now (c) and skip (s), where the endpoint allows them "
            "(it needs a token; skip only under kconsume run).",
        ),
    ] = False,
    theme: Annotated[
        str, typer.Option("--theme", help="Dashboard theme: dark | light | a .tcss file.")
    ] = "dark",
) -> None:
    """Open the dashboard of a consumer started with --observe ADDR (run, consume, tail).

    Read-only unless --control.  Quitting (q) only disconnects: the consumer goes on.
    When the consumer stops or its process goes away, attach says so and exits (0 if it
    stopped, 1 if the connection was lost).  See docs/attach.md.
    """
    from ..observe.remote import RemoteSource
    from ..tui.run import run_remote
    from ..tui.themes import ThemeNotFoundError, resolve_theme

    try:
        theme_path = resolve_theme(theme)
        source = RemoteSource(address, token=token, control=control)
    except (ThemeNotFoundError, ObserveConfigError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    result = run_async(run_remote(source, theme=theme_path))
    if result is None:
        return
    reason, stopped = result
    if reason is None:
        return
    if stopped:
        typer.echo(f"kconsume: {reason}", err=True)
        return
    raise fail(reason)
