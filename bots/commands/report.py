"""`relaydesk report`: KPIs of a period as a terminal table, CSV, JSON or a PNG of charts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import cast

import typer

from bots.app import build
from bots.commands.common import console, fail, handle_errors, load_settings, run
from bots.helpdesk import load_helpdesk_config
from bots.reporting import Report, build_report, parse_window
from bots.schema import ensure_current
from tickets.models import utcnow
from tickets.reports import DIMENSIONS, Dimension, ReportRules

FORMATS = ("table", "csv", "json", "png")
DEFAULT_PNG = Path("relaydesk-report.png")


def _check_out(out: Path | None) -> None:
    if out is None:
        return
    if out.is_dir():
        fail(f"--out: {out} is a folder; give a file name")
    if not out.parent.exists():
        fail(f"--out: the folder {out.parent} does not exist")


@handle_errors
def report(
    since: str = typer.Option(
        "30d", "--since", help="Start: YYYY-MM-DD, YYYY-MM-DDTHH:MM (UTC) or back from now: 7d."
    ),
    until: str | None = typer.Option(
        None, "--until", help="End (a date includes that whole day); default: now."
    ),
    by: str | None = typer.Option(
        None, "--by", help="Group by department, agent, channel, language, day or week."
    ),
    fmt: str = typer.Option("table", "--format", help="table, csv, json or png."),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file (png default: relaydesk-report.png)."
    ),
) -> None:
    """KPIs for a period: volumes, response times, SLA, CSAT, deflection, drafts."""
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if by is not None:
        by = by.strip().lower()
        if by not in DIMENSIONS:
            fail(f"--by: {by!r} is not one of {', '.join(DIMENSIONS)}")
    _check_out(out)
    settings = load_settings()
    window = parse_window(since, until, now=utcnow())
    rules = ReportRules.from_config(load_helpdesk_config(settings))

    async def _build() -> Report:
        services = build(settings)
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                return await build_report(
                    session,
                    window,
                    by=cast(Dimension | None, by),
                    rules=rules,
                    charts=fmt == "png",
                    sessions=services.db.sessions,
                )
        finally:
            await services.close()

    data = run(_build())
    if fmt == "png":
        from bots.report_charts import render_png

        target = out or DEFAULT_PNG
        target.write_bytes(render_png(data))
        console.print(f"wrote {target}", highlight=False)
        return
    if fmt == "table" and out is None:
        from bots.report_format import to_table

        console.print(to_table(data))
        return
    text = _as_text(data, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)


def _as_text(data: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        from bots.report_format import to_csv

        return to_csv(data)
    from rich.console import Console

    from bots.report_format import to_table

    buffer = Console(width=160, file=io.StringIO(), record=True)
    buffer.print(to_table(data))
    return buffer.export_text()
