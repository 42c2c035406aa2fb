"""``kconsume broker``: a local Kafka-protocol broker for people with no Kafka at hand."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from ..broker import EmbeddedBroker
from ..errors import KConsumeError
from .errors import EXIT_USAGE, fail


def broker_command(
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 9092,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    cert: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Serve TLS with this PEM certificate."),
    ] = None,
    key: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="The certificate's PEM key.")
    ] = None,
    authentication: Annotated[
        bool, typer.Option(help="Require a SASL SCRAM login (Tansu's --authentication).")
    ] = False,
) -> None:
    """Run the embedded in-memory broker (Tansu) until Ctrl-C.

    Needs the broker extra: pip install 'kconsume[broker]'.  Topics are not
    created automatically; data lives in memory and is gone when it stops.
    """
    if (cert is None) != (key is None):
        raise fail("--cert and --key go together", EXIT_USAGE)
    broker = EmbeddedBroker(port=port, host=host, cert=cert, key=key, authentication=authentication)
    try:
        broker.start()
    except KConsumeError as exc:
        raise fail(str(exc)) from None
    # Ctrl-C and SIGTERM stop it even when started with SIGINT ignored (a background job
    # of a non-interactive shell), where Python would leave Ctrl-C ignored.  Set before
    # saying it listens: whoever waits for that line may signal at once.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _interrupt)
    what = "TLS " if broker.tls else ""
    try:
        typer.echo(
            f"broker listening on {what}{broker.url} (log: {broker.log_path}); Ctrl-C stops it"
        )
        code = broker.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        broker.stop()
    if code:
        raise fail(f"broker exited with status {code}:\n{broker.log_text(2000)}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
