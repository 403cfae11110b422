"""`relaydesk customers export|erase ID`: a customer's data out, or gone (GDPR art. 15/17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from bots import privacy
from bots.app import build
from bots.commands.common import console, fail, handle_errors, load_settings, print_json, run
from bots.schema import ensure_current

app = typer.Typer(help="Export or erase one customer's data.", no_args_is_help=True)

ID_HELP = "Customer id, or channel:user such as telegram:12345."


@app.command("export")
@handle_errors
def export(
    customer: str = typer.Argument(..., help=ID_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here, not to stdout."),
) -> None:
    """Everything relaydesk holds about a customer, as JSON."""

    async def _export() -> dict[str, Any]:
        services = build(load_settings())
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                found = await privacy.resolve_customer(session, customer)
                return await privacy.export(session, found)
        finally:
            await services.close()

    data = run(_export())
    if out is None:
        print_json(data)
        return
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(f"exported customer {data['customer']['id']} to {out}")


@app.command("erase")
@handle_errors
def erase(
    customer: str = typer.Argument(..., help=ID_HELP),
    yes: bool = typer.Option(False, "--yes", help="Confirm: this cannot be undone."),
    as_json: bool = typer.Option(False, "--json", help="Print what was erased as JSON."),
) -> None:
    """Erase a customer's personal data, then verify that nothing is left."""
    if not yes:
        fail("erasing cannot be undone: add --yes to confirm", 2)

    async def _erase() -> privacy.Erasure:
        services = build(load_settings())
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                found = await privacy.resolve_customer(session, customer)
                result = await privacy.erase(
                    session, found, remove_articles=services.remove_articles
                )
                if result.leftovers:
                    await session.rollback()
                    return result
                await session.commit()
                return result
        finally:
            await services.close()

    result = run(_erase())
    if as_json:
        print_json(
            {
                "customer": result.customer_id,
                "erased": result.counts,
                "left": result.leftovers,
            }
        )
    if result.leftovers:
        fail(f"erasure not verified, rolled back: still found {', '.join(result.leftovers)}")
    if not as_json:
        total = sum(result.counts.values())
        console.print(
            f"erased customer {result.customer_id}: {total} rows changed; verified: nothing left"
        )
