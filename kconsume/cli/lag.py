"""``kconsume lag`` and ``kconsume groups``: any group's lag and Burrow verdicts, from
outside (nothing joins a group)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Annotated, Any

import orjson
import typer

from ..groups.lag import LagReport, LagWindow, render_groups, render_lag, sorted_reports
from ..groups.probe import GroupsProbe
from ..groups.verdict import GroupVerdict
from . import options as o
from .errors import EXIT_FAILURE, EXIT_USAGE, fail, run_async

WINDOW = "The window (Burrow's evaluation)"

Interval = Annotated[
    float,
    typer.Option(
        "--interval", min=0.05, rich_help_panel=WINDOW,
        help="Seconds between samples (set it at least to the consumers' commit interval).",
    ),
]  # fmt: skip
Window = Annotated[
    int,
    typer.Option(
        "--window", min=2, rich_help_panel=WINDOW,
        help="Samples in the window (Burrow's intervals). A verdict needs a full window.",
    ),
]  # fmt: skip
AllowedLag = Annotated[
    int,
    typer.Option(
        "--allowed-lag", min=0, rich_help_panel=WINDOW,
        help="Lag at or under this is OK whatever else (Burrow's allowed-lag).",
    ),
]  # fmt: skip
Watch = Annotated[
    bool,
    typer.Option(
        "--watch", rich_help_panel=WINDOW,
        help="Keep sampling every --interval seconds: a report per sample, the window sliding.",
    ),
]  # fmt: skip
Json = Annotated[
    bool, typer.Option("--json", help="One JSON document per report (per sample with --watch).")
]


def settings_from(config: list[str] | None, *security: Any) -> dict[str, Any]:
    return {**o.client_config(config), **o.security_settings(*security)}


def emit(text: str | bytes) -> None:
    if isinstance(text, bytes):
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


async def _ticks(interval: float, count: int | None) -> Any:
    """Yield at a steady pace (the sample times do not drift with the sampling cost)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while count is None or n < count:
        yield n
        n += 1
        delay = start + n * interval - loop.time()
        if count is None or n < count:
            await asyncio.sleep(max(0.0, delay))


def lag_command(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The consumer group.")],
    topics: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TOPIC",
            help="Only these topics (default: those the group owns or has offsets on).",
            show_default=False,
        ),
    ] = None,
    watch: Watch = False,
    interval: Interval = 1.0,
    window: Window = 10,
    allowed_lag: AllowedLag = 0,
    as_json: Json = False,
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
    """GROUP's lag per partition, judged by Burrow's rules over a window of samples.

    Per partition: committed offset, log end, lag, time lag (how old the oldest unread
    record is), commit and consume rates, ETA to drain, owner and verdict (OK, WARN,
    STALL, STOP, REWIND) with its reason; the group's verdict is the worst (STOP, STALL
    and REWIND are ERR).  Takes a full window (--window samples, --interval apart)
    before it answers.  Exit status: 0 when the group is OK, 1 when it is not, 2 on
    bad usage.  Never joins the group.
    """  # fmt: skip
    every = interval if watch else None
    settings = settings_from(
        config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
        ssl_cafile, ssl_certfile, ssl_keyfile,
    )  # fmt: skip

    def show(report: LagReport) -> None:
        if as_json:
            emit(orjson.dumps(report.to_json(), option=orjson.OPT_APPEND_NEWLINE))
        else:
            emit(render_lag(report) + ("\n" if every is not None else ""))

    async def main() -> GroupVerdict:
        lag_window = LagWindow(group, window=window, allowed_lag=allowed_lag)
        report: LagReport | None = None
        async with GroupsProbe(broker, settings) as probe:
            info = (await probe.describe([group]))[group]
            tps = await probe.group_partitions(info, topics)
            pace = every if every is not None else interval
            async for n in _ticks(pace, None if every is not None else window):
                if n:
                    info = (await probe.describe([group]))[group]
                last = n == window - 1
                sample = await probe.sample(group, tps, info=info, times=every is not None or last)
                report = lag_window.add(sample)
                if every is not None:
                    show(report)
        assert report is not None
        if every is None:
            show(report)
        return report.verdict

    verdict = run_async(main())
    if verdict is None:  # interrupted (--watch ends here)
        return
    if verdict is not GroupVerdict.OK:
        raise typer.Exit(EXIT_FAILURE)


def groups_command(
    lagging: Annotated[bool, typer.Option("--lagging", help="Only groups with lag.")] = False,
    interval: Interval = 1.0,
    window: Window = 10,
    allowed_lag: AllowedLag = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help='One JSON document: {"groups": [...]}.')
    ] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="The groups dashboard, sampled every --interval (q quits)."),
    ] = False,
    theme: Annotated[
        str, typer.Option(help="The dashboard's theme: dark, light or a .tcss file.")
    ] = "dark",
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
    """Every consumer group: state, members, topics, total lag, worst partition and
    Burrow verdict, worst first.

    Samples every group over a window (--window samples, --interval apart) first.
    Empty and dead groups are listed too.  Exit status: 0 when every group shown is
    OK, 1 otherwise.  Never joins a group.
    """  # fmt: skip
    settings = settings_from(
        config, security_protocol, sasl_mechanism, sasl_username, sasl_password,
        ssl_cafile, ssl_certfile, ssl_keyfile,
    )  # fmt: skip

    if watch:
        from ..tui.groups_app import run_groups_dashboard
        from ..tui.themes import ThemeNotFoundError, resolve_theme

        try:
            resolve_theme(theme)
        except ThemeNotFoundError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        run_groups_dashboard(
            broker, settings, interval=interval, window=window, allowed_lag=allowed_lag,
            theme=theme,
        )  # fmt: skip
        return

    async def main() -> list[LagReport]:
        async with GroupsProbe(broker, settings) as probe:
            return await sample_groups(probe, interval, window, allowed_lag)

    reports = run_async(main())
    if reports is None:
        return
    if lagging:
        reports = [r for r in reports if r.total_lag > 0]
    if as_json:
        emit(
            orjson.dumps(
                {"groups": [r.to_json() for r in reports]}, option=orjson.OPT_APPEND_NEWLINE
            )
        )
    else:
        emit(render_groups(reports) if reports else "no consumer groups\n")
    if any(r.verdict is not GroupVerdict.OK for r in reports):
        raise typer.Exit(EXIT_FAILURE)


async def sample_groups(
    probe: GroupsProbe,
    interval: float,
    window: int,
    allowed_lag: int,
    on_sample: Callable[[list[LagReport]], None] | None = None,
) -> list[LagReport]:
    """A full window of every group; reports sorted worst first."""
    names = await probe.list_groups()
    infos = await probe.describe(names)
    parts = {g: await probe.group_partitions(infos[g]) for g in names}
    windows = {g: LagWindow(g, window=window, allowed_lag=allowed_lag) for g in names}
    reports: list[LagReport] = []
    async for n in _ticks(interval, window):
        if n:
            infos = await probe.describe(names)
        reports = [
            windows[g].add(await probe.sample(g, parts[g], info=infos[g], times=n == window - 1))
            for g in names
        ]
        if on_sample is not None:
            on_sample(sorted_reports(reports))
    return sorted_reports(reports)


__all__ = ["groups_command", "lag_command", "sample_groups"]
