"""`mlconnector reconcile`: what ServiceTitan has against what QuickBooks confirmed, per
entity and day, and the records that make up a difference."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mlconnector.cli.audit_client import call, money

ENTITY_WORDS = {"invoice": "invoices", "payment": "payments", "bill": "bills"}


def _row(label: str, f: dict[str, Any]) -> str:
    difference = (
        "matches"
        if f["matches"]
        else f"{f['difference_count']:>4} {money(f['difference_total']):>12}"
    )
    return (
        f"  {label:10} {f['st_count']:>5} {money(f['st_total']):>12}   "
        f"{f['qb_count']:>5} {money(f['qb_total']):>12}   {difference}"
    )


def render(result: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The reconciliation as people read it."""
    span = (
        result["date_from"]
        if result["date_from"] == result["date_to"]
        else f"{result['date_from']} to {result['date_to']}"
    )
    lines = [
        f"Reconciliation of {result['connection']}, {span}",
        f"  {'':10} {'ServiceTitan':>18}   {'in QuickBooks':>18}   difference",
    ]
    lines += [_row(ENTITY_WORDS[f["entity"]], f) for f in result["entities"]]
    unread = sum(f["not_read_back"] for f in result["entities"])
    if unread:
        lines.append(
            f"  {unread} posted without a read-back amount from QuickBooks (counted as sent)."
        )
    if result["matches"]:
        lines.append("ServiceTitan and QuickBooks agree.")
        return "\n".join(lines)
    lines.append("Records that make up the difference:")
    for r in records:
        lines.append(
            f"  {r['entity']} {r['reference'] or r['st_id']} ({r['party'] or '-'}, {r['date']}): "
            f"ServiceTitan {money(r['amount']) or '-'}, QuickBooks {money(r['qb_amount']) or '-'}"
            f" - {r['reason']} [record {r['id']}]"
        )
    return "\n".join(lines)


def reconcile(
    connection: Annotated[str, typer.Argument(help="connection name")],
    date: Annotated[
        str | None, typer.Option(help="a day: YYYY-MM-DD, 'today' or 'yesterday' (default today)")
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="first day (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="last day (YYYY-MM-DD)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, for scripts")] = False,
) -> None:
    """Did the day's invoices, payments and bills reach QuickBooks, in full?

    Days are the records' own dates in ServiceTitan; 'today' is today in the connection's
    time zone. QuickBooks' side counts what QuickBooks confirmed (its read-back amounts).
    """
    params = {"connection": connection, "date": date, "date_from": date_from, "date_to": date_to}
    result = call("GET", "/api/reconcile", params)
    records: list[dict[str, Any]] = []
    if not result["matches"]:
        for entity in ENTITY_WORDS:
            records += call("GET", "/api/reconcile/records", {**params, "entity": entity})
    if as_json:
        typer.echo(json.dumps({**result, "records": records}, indent=2))
        return
    typer.echo(render(result, records))


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
