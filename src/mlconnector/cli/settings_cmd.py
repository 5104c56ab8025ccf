"""`mlconnector connection settings`: a connection's time zone and Web Connector schedule."""

from __future__ import annotations

from typing import Annotated

import typer

from mlconnector.cli import connections as conn_cmds
from mlconnector.cli.audit_client import fail
from mlconnector.cli.registry import group
from mlconnector.cli.runtime import NoNatsError
from mlconnector.common.connections import Connection, ConnectionStore, check_time_zone


def connection_settings(
    name: Annotated[str, typer.Argument(help="connection name")],
    time_zone: Annotated[
        str | None,
        typer.Option(help="the office's time zone, e.g. America/Chicago (audit shows times in it)"),
    ] = None,
    every_minutes: Annotated[
        int | None,
        typer.Option(help="how often the Web Connector calls (the .qwc schedule, 1-59)"),
    ] = None,
) -> None:
    """Show or change where the office is (time zone) and how often its Web Connector calls.

    Audit warns when the Web Connector has not called for twice the schedule.
    """
    if time_zone is not None:
        try:
            check_time_zone(time_zone)
        except ValueError as exc:
            fail(f"{exc}.")
    if every_minutes is not None and not 1 <= every_minutes <= 59:
        fail("The Web Connector's schedule is 1 to 59 minutes.")

    async def apply(store: ConnectionStore) -> Connection | None:
        found = await store.get(name)
        if found is None:
            return None
        changes: dict[str, object] = {}
        if time_zone is not None:
            changes["time_zone"] = time_zone
        if every_minutes is not None:
            changes["schedule_minutes"] = every_minutes
        if changes:
            found = found.model_copy(update=changes)
            await store.put(found)
        return found

    try:
        found = conn_cmds.with_store(apply)
    except NoNatsError as exc:
        fail(str(exc))
    if found is None:
        fail(f"There is no connection named {name!r}; `mlconnector connection list` shows them.")
    verb = "Stored" if time_zone is not None or every_minutes is not None else "Settings of"
    zone = found.time_zone or "audit's default (AUDIT_TIME_ZONE)"
    typer.echo(
        f"{verb} connection {name!r}: time zone {zone}, "
        f"Web Connector every {found.schedule_minutes} minutes."
    )


def register(app: typer.Typer) -> None:
    group(app, "connection").command("settings")(connection_settings)
