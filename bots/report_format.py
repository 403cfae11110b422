"""The report as text: one flat row per group (CSV) and a Rich table for the terminal."""

from __future__ import annotations

import csv
import io
from typing import Any

from rich.table import Table

from bots.reporting import DraftKpis, KbKpis, Report, human_duration, percent
from tickets.reports import TOTAL, DurationStats, TicketKpis

TABLE_GROUPS = 6  # groups shown beside the total in the terminal; CSV and JSON have them all

DURATIONS = (
    ("frt", "first_response"),
    ("frt_business", "first_response_business"),
    ("nrt", "next_response"),
    ("nrt_business", "next_response_business"),
    ("resolution", "resolution"),
    ("resolution_business", "resolution_business"),
)

CSV_COLUMNS: tuple[str, ...] = (
    "group",
    "tickets_created",
    "tickets_resolved",
    "backlog_new",
    "backlog_open",
    "backlog_pending",
    "reopened",
    "resolution_rate",
    "fcr_rate",
    *(
        f"{short}_{stat}"
        for short, _ in DURATIONS
        for stat in ("count", "mean_s", "p50_s", "p90_s")
    ),
    "sla_first_response_breached",
    "sla_first_response_breach_rate",
    "sla_next_response_breached",
    "sla_next_response_breach_rate",
    "sla_resolution_breached",
    "sla_resolution_breach_rate",
    "sla_any_breach_rate",
    "csat_ratings",
    "csat_average",
    "csat_satisfied_share",
    "csat_response_rate",
    "recontact_rate",
    "kb_questions",
    "kb_answered",
    "kb_handed_off",
    "kb_verified",
    "kb_assumed",
    "kb_verified_rate",
    "kb_assumed_rate",
    "kb_pending",
    "drafts",
    "drafts_sent_as_is",
    "drafts_edited",
    "drafts_regenerated",
    "drafts_discarded",
    "drafts_acceptance_rate",
    "drafts_mean_edit_distance",
)


def _lookup(
    report: Report,
) -> tuple[dict[str, TicketKpis], dict[str, KbKpis], dict[str, DraftKpis]]:
    tickets = {TOTAL: report.tickets.totals, **{g.key: g for g in report.tickets.groups}}
    kb = {TOTAL: report.kb_totals, **{g.key: g for g in report.kb_groups}}
    drafts = {TOTAL: report.draft_totals, **{g.key: g for g in report.draft_groups}}
    return tickets, kb, drafts


def flat_row(
    key: str, ticket: TicketKpis | None, kb: KbKpis | None, drafts: DraftKpis | None
) -> dict[str, Any]:
    """One group's figures under the CSV column names (None where a group has no data)."""
    t = ticket or TicketKpis(key=key)
    k = kb or KbKpis(key=key)
    d = drafts or DraftKpis(key=key)
    row: dict[str, Any] = {
        "group": key,
        "tickets_created": t.created,
        "tickets_resolved": t.resolved,
        "backlog_new": t.backlog.get("new", 0),
        "backlog_open": t.backlog.get("open", 0),
        "backlog_pending": t.backlog.get("pending", 0),
        "reopened": t.reopened,
        "resolution_rate": t.resolution_rate,
        "fcr_rate": t.fcr_rate,
    }
    for short, name in DURATIONS:
        stats: DurationStats = getattr(t, name)
        row[f"{short}_count"] = stats.count
        row[f"{short}_mean_s"] = stats.mean_s
        row[f"{short}_p50_s"] = stats.p50_s
        row[f"{short}_p90_s"] = stats.p90_s
    for clock in ("first_response", "next_response", "resolution"):
        row[f"sla_{clock}_breached"] = t.sla[clock].breached
        row[f"sla_{clock}_breach_rate"] = t.sla[clock].breach_rate
    row["sla_any_breach_rate"] = t.sla["any"].breach_rate
    csat = t.csat.to_dict()
    row["csat_ratings"] = csat["ratings"]
    row["csat_average"] = csat["average"]
    row["csat_satisfied_share"] = csat["satisfied_share"]
    row["csat_response_rate"] = csat["response_rate"]
    row["recontact_rate"] = t.recontact_rate
    deflection = k.to_dict()["deflection"]
    row.update(
        kb_questions=k.questions,
        kb_answered=k.answered,
        kb_handed_off=k.handed_off,
        kb_verified=k.verified,
        kb_assumed=k.assumed,
        kb_verified_rate=deflection["verified_rate"],
        kb_assumed_rate=deflection["assumed_rate"],
        kb_pending=k.pending,
    )
    drafted = d.to_dict()
    row.update(
        drafts=d.drafts,
        drafts_sent_as_is=d.sent_as_is,
        drafts_edited=d.edited,
        drafts_regenerated=d.regenerated,
        drafts_discarded=d.discarded,
        drafts_acceptance_rate=drafted["acceptance_rate"],
        drafts_mean_edit_distance=drafted["mean_edit_distance"],
    )
    return row


def flat_rows(report: Report) -> list[dict[str, Any]]:
    """The total first, then one row per group."""
    tickets, kb, drafts = _lookup(report)
    keys = [TOTAL, *report.keys()]
    return [flat_row(key, tickets.get(key), kb.get(key), drafts.get(key)) for key in keys]


def to_csv(report: Report) -> str:
    """CSV for spreadsheets: a header and one row per group; empty cells where there is no
    value (no tickets to average over)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in flat_rows(report):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _count(value: Any) -> str:
    return "-" if value is None else str(value)


TABLE_LINES: tuple[tuple[str, str, str], ...] = (
    ("Tickets created", "tickets_created", "count"),
    ("Tickets resolved", "tickets_resolved", "count"),
    ("Backlog new / open / pending", "backlog", "backlog"),
    ("Reopened", "reopened", "count"),
    ("Resolution rate", "resolution_rate", "percent"),
    ("First contact resolution", "fcr_rate", "percent"),
    ("First response median (wall)", "frt_p50_s", "duration"),
    ("First response median (business)", "frt_business_p50_s", "duration"),
    ("First response p90 (wall)", "frt_p90_s", "duration"),
    ("Next response median (business)", "nrt_business_p50_s", "duration"),
    ("Resolution median (wall)", "resolution_p50_s", "duration"),
    ("Resolution median (business)", "resolution_business_p50_s", "duration"),
    ("SLA first response breached", "sla_first_response_breach_rate", "percent"),
    ("SLA next response breached", "sla_next_response_breach_rate", "percent"),
    ("SLA resolution breached", "sla_resolution_breach_rate", "percent"),
    ("CSAT average (ratings)", "csat", "csat"),
    ("CSAT 4-5 share", "csat_satisfied_share", "percent"),
    ("CSAT response rate", "csat_response_rate", "percent"),
    ("Re-contact within 7 days", "recontact_rate", "percent"),
    ("Bot questions / answered", "kb", "kb"),
    ("Deflection verified", "kb_verified_rate", "percent"),
    ("Deflection assumed", "kb_assumed_rate", "percent"),
    ("Drafts shown", "drafts", "count"),
    ("Drafts sent (as is + edited)", "drafts_acceptance_rate", "percent"),
    ("Drafts sent as is / edited", "drafts_split", "drafts"),
    ("Mean edit distance (edited)", "drafts_mean_edit_distance", "count"),
)


def _cell(row: dict[str, Any], field: str, kind: str) -> str:
    if kind == "percent":
        return percent(row[field])
    if kind == "duration":
        return human_duration(row[field])
    if kind == "backlog":
        return f"{row['backlog_new']} / {row['backlog_open']} / {row['backlog_pending']}"
    if kind == "csat":
        average = row["csat_average"]
        return "-" if average is None else f"{average:.2f} ({row['csat_ratings']})"
    if kind == "kb":
        return f"{row['kb_questions']} / {row['kb_answered']}"
    if kind == "drafts":
        return f"{row['drafts_sent_as_is']} / {row['drafts_edited']}"
    return _count(row[field])


def to_table(report: Report) -> Table:
    """KPIs down, the total and the first groups across."""
    rows = flat_rows(report)
    shown = rows[: 1 + TABLE_GROUPS]
    since, until = report.window.since, report.window.until
    caption = f"{since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC"
    if len(rows) > len(shown):
        caption += f"; {len(rows) - len(shown)} more groups in --format csv or json"
    table = Table(title="relaydesk report", caption=caption)
    table.add_column("KPI")
    for row in shown:
        table.add_column(str(row["group"]), justify="right")
    for label, field, kind in TABLE_LINES:
        table.add_row(label, *(_cell(row, field, kind) for row in shown))
    return table
