"""`mlconnector replay`: send ServiceTitan events through the pipeline again (audit's replay).

Replayed events map to the same command ids, so nothing already posted is posted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from enum import StrEnum
from typing import Annotated, Any

import typer

from mlconnector.cli.connections import check_name, check_tenant
from mlconnector.cli.output import EXIT_FAILED, JsonFlag, fail, plural, print_json
from mlconnector.cli.runtime import audit_url


class Entity(StrEnum):
    """The entities of ST_EVENTS (common.models.EntityName)."""

    customer = "customer"
    vendor = "vendor"
    invoice = "invoice"
    payment = "payment"
    bill = "bill"


def parse_since(text: str) -> dt.datetime:
    """An ISO date or date-time as an aware UTC datetime; one without an offset is read in
    this machine's local time. Exits 2 with an example when it is not one."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(
            f"--since {text!r} is not a date: give an ISO date or date-time, such as "
            "2026-11-01 or 2026-11-01T08:00:00Z."
        )
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as the person reads their clock
    return when.astimezone(dt.UTC)


def _audit_error(body: bytes) -> str:
    """The sentence inside an audit API error body ({"detail": ...})."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return "no explanation"
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        where = ".".join(str(part) for part in first.get("loc", [])[1:])
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
    return "no explanation"


def post_replay(body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/replay on the running audit service; exits with a sentence on failure."""
    base = audit_url()
    request = urllib.request.Request(
        f"{base}/api/replay",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        reason = _audit_error(exc.read())
        if exc.code < 500:
            fail(f"audit refused the replay ({reason}): correct the options and run it again.")
        fail(
            f"audit could not replay (HTTP {exc.code}: {reason}): see its log, then try again.",
            EXIT_FAILED,
        )
    except OSError:
        fail(
            f"the audit service does not answer at {base}: start `mlconnector up`, or set "
            "AUDIT_URL to the running audit service."
        )


def replay(
    since: Annotated[
        str | None,
        typer.Option(help="events stored from this ISO date or date-time on (local time)"),
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="ServiceTitan tenant id")] = None,
    connection: Annotated[str | None, typer.Option(help="only this connection's tenant")] = None,
    entity: Annotated[Entity | None, typer.Option(help="only this kind of record")] = None,
    st_id: Annotated[int | None, typer.Option(help="only this ServiceTitan id")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Replay ServiceTitan events from the NATS stream; already posted records are not re-posted."""
    body: dict[str, Any] = {"stream": "ST_EVENTS"}
    if since is not None:
        body["since"] = parse_since(since).isoformat()
    if tenant is not None:
        check_tenant(tenant)
        body["tenant"] = tenant
    if connection is not None:
        check_name(connection)
        body["connection"] = connection
    if entity is not None:
        body["entity"] = entity.value
    if st_id is not None:
        body["st_id"] = st_id
    result = post_replay(body)
    if json_output:
        print_json(result)
        return
    republished = int(result.get("republished", 0))
    if not republished:
        typer.echo("No stored ServiceTitan event matched: nothing was replayed.")
        return
    typer.echo(
        f"Replayed {plural(republished, 'ServiceTitan event')} (replay {result.get('replay_id')}): "
        "the mapper maps them again, and records already in QuickBooks are not posted twice; "
        "`mlconnector status` shows the records."
    )


def register(app: typer.Typer) -> None:
    app.command()(replay)
