"""``kconsume commit``: move a group's committed offsets (a dry run unless --execute)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import KConsumeError
from ..groups import CommitTo, GroupActiveError, active_message, open_session, plan_for, render
from . import options as o
from .errors import run_async
from .peek import GroupArg, TargetArg, selection


def commit_to(spec: str) -> CommitTo:
    try:
        return CommitTo.parse(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--to'") from None


def commit_command(
    group: GroupArg,
    target: TargetArg,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            show_default=False,
            help="N (an offset) | +N / -N (shift the committed offset) | beginning | end | "
            "@TIME (the first record at or after it: ISO 8601 or epoch ms). Clamped to the log.",
        ),
    ],
    execute: Annotated[
        bool,
        typer.Option("--execute", help="Commit. Without it: a dry run that only shows the change."),
    ] = False,
    broker: o.Broker = "localhost:9092",
    security_protocol: o.SecurityProtocol = None,
    sasl_mechanism: o.SaslMechanism = None,
    sasl_username: o.SaslUsername = None,
    sasl_password: o.SaslPassword = None,
    ssl_cafile: o.SslFile = None,
    ssl_certfile: o.SslFile = None,
    ssl_keyfile: o.SslFile = None,
    config: o.ClientConfig = None,
) -> None:
    """Move GROUP's committed offsets on TOPIC.

    Shows a table (log start and end, committed, new, delta) and commits only with
    --execute.  Refuses (exit 1) while the group has members: stop its consumers
    first.  +N/-N leave partitions without a committed offset alone.
    """  # fmt: skip
    chosen = selection(target)
    where = commit_to(to)
    settings = o.broker_settings(
        config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
        ssl_cafile, ssl_certfile, ssl_keyfile,
    )  # fmt: skip

    def say(text: str) -> None:
        print(text, flush=True)

    async def main() -> None:
        async with open_session(broker, group, chosen, settings) as session:
            state = await session.describe()
            plans = await plan_for(session, where)
            mode = "Commit" if execute else "Dry run: commit"
            say(f"{mode} --to {to} for group {group} on {chosen}")
            say(render(plans).rstrip("\n"))
            if state.active:
                raise GroupActiveError(active_message(group, state))
            offsets = {p.tp: p.new for p in plans if p.new is not None}
            if not offsets:
                raise KConsumeError(f"group {group} has no committed offset on {chosen} to shift")
            if not execute:
                say("Nothing committed: add --execute to commit these offsets.")
                return
            await session.check_inactive()  # once more, just before
            saved = await session.commit(offsets)
        wrong = {tp: (offsets[tp], got) for tp, got in saved.items() if got != offsets[tp]}
        if wrong:
            shown = ", ".join(f"{tp}: wanted {w}, has {g}" for tp, (w, g) in wrong.items())
            raise KConsumeError(f"the broker did not keep the commit ({shown})")
        n = len(offsets)
        say(f"Committed {n} offset{'s' if n != 1 else ''} for group {group} (read back).")

    run_async(main())
    sys.stdout.flush()
