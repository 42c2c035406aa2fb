"""Turning engine errors into clear messages and exit codes."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from ..errors import EXIT_FAILURE, EXIT_USAGE, KConsumeError

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "fail", "run_async"]

T = TypeVar("T")


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    typer.secho(f"kconsume: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def run_async(main: Coroutine[Any, Any, T]) -> T | None:
    """Run a command's coroutine; Ctrl-C and SIGTERM cancel it, errors become messages.

    Returns the coroutine's result, or None if it was cancelled before finishing.
    """

    async def runner() -> T | None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await main
        except asyncio.CancelledError:
            return None
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(runner())
    except KConsumeError as exc:
        raise fail(str(exc), exc.exit_code) from None
