"""`mlconnector connection add|list|show|remove`: pair a ServiceTitan tenant with a QuickBooks
company file (the Web Connector user that syncs it)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlconnector.cli.connections import (
    check_name,
    check_tenant,
    describe,
    load_connection,
    public_fields,
    read_password,
    refusal,
    with_store,
)
from mlconnector.cli.output import JsonFlag, fail, print_json
from mlconnector.cli.registry import group
from mlconnector.common.connections import Connection, ConnectionStore


def connection_add(
    name: str,
    tenant: Annotated[str, typer.Option(help="ServiceTitan tenant id (a number)")],
    qbwc_user: Annotated[str, typer.Option(help="user name the Web Connector sends")],
    company_file: Annotated[str, typer.Option(help="QuickBooks company file path")] = "",
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
    skip_onboarding: Annotated[
        bool,
        typer.Option(help="post at once, without reading the company first (a new, empty file)"),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Register a connection; the QBWC password is read from a prompt (or stdin) and hashed.
    Nothing posts until its onboarding review is confirmed (`mlconnector onboard NAME`),
    unless `--skip-onboarding`.

    One ServiceTitan tenant feeds one QuickBooks company: a tenant another connection
    already syncs is refused.
    """
    check_name(name)
    check_tenant(tenant)
    if not qbwc_user.strip():
        fail("--qbwc-user is empty: give the user name to type in the Web Connector.")

    async def check(store: ConnectionStore) -> str | None:
        return await refusal(store, name, tenant, qbwc_user)

    # Refused before the password is asked for, and checked again when stored.
    problem = with_store(check)
    if problem:
        fail(problem)
    connection = Connection.create(name, tenant, qbwc_user, read_password(password_stdin))
    connection = connection.model_copy(
        update={"company_file": company_file, "onboarded": skip_onboarding}
    )

    async def add(store: ConnectionStore) -> str | None:
        found = await refusal(store, name, tenant, qbwc_user)
        if found is None:
            await store.put(connection)
        return found

    problem = with_store(add)
    if problem:
        fail(problem)
    if json_output:
        print_json(public_fields(connection))
        return
    typer.echo(
        f"Added connection {name!r}. Next: `mlconnector qwc {name} > {name}.qwc` "
        "and open that file in the QuickBooks Web Connector."
        + (
            ""
            if skip_onboarding
            else f" Its first session reads the QuickBooks company; then review it with "
            f"`mlconnector onboard {name}`: nothing posts before you confirm."
        )
    )


def connection_list(json_output: JsonFlag = False) -> None:
    """List connections."""

    async def list_all(store: ConnectionStore) -> list[Connection]:
        return await store.all()

    found = with_store(list_all)
    if json_output:
        print_json([public_fields(c) for c in found])
        return
    if not found:
        typer.echo(
            "No connections yet: `mlconnector connection add NAME --tenant ... --qbwc-user ...`"
        )
        return
    rows = [("NAME", "TENANT", "QBWC USER", "COMPANY FILE")] + [
        (c.name, c.tenant, c.qbwc_username, c.company_file or "(the open one)") for c in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        typer.echo("  ".join(cells).rstrip())


def connection_show(name: str, json_output: JsonFlag = False) -> None:
    """Show one connection and its mapping settings."""
    found = load_connection(name)
    if json_output:
        print_json(public_fields(found))
    else:
        typer.echo(describe(found))


def connection_remove(name: str, json_output: JsonFlag = False) -> None:
    """Remove a connection (its records stay in the audit trail)."""

    async def delete(store: ConnectionStore) -> bool:
        return await store.delete(name)

    if not with_store(delete):
        fail(f"there is no connection named {name!r}: `mlconnector connection list` shows them.")
    if json_output:
        print_json({"removed": name})
    else:
        typer.echo(f"Removed connection {name!r}.")


def register(app: typer.Typer) -> None:
    connection = group(app, "connection")
    connection.command("add")(connection_add)
    connection.command("list")(connection_list)
    connection.command("show")(connection_show)
    connection.command("remove")(connection_remove)
