"""`mlconnector retry`: send failed records again, mapped with the connection's current
mapping (a new generation of their newest ServiceTitan version; never posted twice)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mlconnector.cli.audit_client import call, fail


def retry(
    record_ids: Annotated[
        list[int] | None, typer.Argument(help="record numbers (as the dashboard shows them)")
    ] = None,
    connection: Annotated[
        str | None, typer.Option(help="every failed record of this connection")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="failed at or after (YYYY-MM-DD or ISO date-time, UTC)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="failed before (same forms)")] = None,
    entity: Annotated[str | None, typer.Option(help="invoice, payment, bill, ...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, for scripts")] = False,
) -> None:
    """Retry failed records: by number, or every failed record of a connection in a time range.

    Fix the cause first (e.g. `mlconnector connection mapping`); the records then go to
    QuickBooks at the Web Connector's next call.
    """
    if record_ids and (connection or since or until or entity):
        fail("Give record numbers, or --connection with a time range, not both.")
    if not record_ids and not connection:
        fail("Say what to retry: record numbers, or --connection NAME (with --since/--until).")
    body: dict[str, Any]
    if record_ids:
        body = {"record_ids": record_ids}
    else:
        body = {"connection": connection, "since": since, "until": until, "entity": entity}
        body = {k: v for k, v in body.items() if v is not None}
    result = call("POST", "/api/retry", body=body)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for item in result["retried"]:
        typer.echo(f"Record {item['record_id']} ({item['entity']} {item['st_id']}): sent again.")
    for item in result["skipped"]:
        typer.echo(f"Record {item['record_id']}: {item['reason']}")
    count = result["count"]
    if count == 0 and not result["skipped"]:
        typer.echo("No failed records to retry.")
    elif count:
        typer.echo(
            f"{count} record{'s' if count != 1 else ''} sent again; "
            "they go to QuickBooks at the Web Connector's next call."
        )


def register(app: typer.Typer) -> None:
    app.command("retry")(retry)
