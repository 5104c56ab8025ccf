"""The `mlconnector` command."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer

from mlconnector.cli import connections as conn_cmds
from mlconnector.cli import map_cmd, mapping_cmd, onboard_cmd, st_cmd
from mlconnector.cli.qwc import QwcError, build_qwc
from mlconnector.cli.runtime import NoNatsError, audit_url, read_state
from mlconnector.common.connections import Connection, ConnectionStore

T = TypeVar("T")

app = typer.Typer(help="ml-connector: ServiceTitan to QuickBooks Desktop.", no_args_is_help=True)
connection_app = typer.Typer(help="Pair ServiceTitan tenants with QuickBooks companies.")
sim_app = typer.Typer(help="Simulators for development and demos.")
app.add_typer(connection_app, name="connection")
app.add_typer(sim_app, name="sim")
app.command("map")(map_cmd.map_record)
connection_app.command("mapping")(mapping_cmd.connection_mapping)
connection_app.command("credentials")(st_cmd.connection_credentials)
app.command("backfill")(st_cmd.backfill)
app.add_typer(st_cmd.st_app, name="st")
onboard_cmd.register(app)


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _with_store(action: Callable[[ConnectionStore], Awaitable[T]]) -> T:
    try:
        return conn_cmds.with_store(action)
    except NoNatsError as exc:
        _fail(str(exc))


def _connection(name: str) -> Connection:
    async def get(store: ConnectionStore) -> Connection | None:
        return await store.get(name)

    found = _with_store(get)
    if found is None:
        _fail(f"no connection named {name!r}")
    return found


@app.command()
def up(
    every: Annotated[
        float, typer.Option(help="seconds between simulated Web Connector cycles")
    ] = 5.0,
) -> None:
    """Run everything: NATS, the four services, and (without ST credentials) the simulators."""
    from mlconnector.cli.up import run_up

    raise typer.Exit(run_up(every_seconds=every))


@connection_app.command("add")
def connection_add(
    name: str,
    tenant: Annotated[str, typer.Option(help="ServiceTitan tenant id")],
    qbwc_user: Annotated[str, typer.Option(help="user name the Web Connector sends")],
    company_file: Annotated[str, typer.Option(help="QuickBooks company file path")] = "",
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
    skip_onboarding: Annotated[
        bool,
        typer.Option(help="post at once, without reading the company first (a new, empty file)"),
    ] = False,
) -> None:
    """Register a connection; the QBWC password is read from a prompt (or stdin) and hashed.
    Nothing posts until its onboarding review is confirmed (`mlconnector onboard NAME`)."""
    try:
        password = conn_cmds.read_password(password_stdin)
        connection = Connection.create(name, tenant, qbwc_user, password)
    except ValueError as exc:
        _fail(str(exc))
    connection = connection.model_copy(
        update={"company_file": company_file, "onboarded": skip_onboarding}
    )

    async def add(store: ConnectionStore) -> str | None:
        if await store.get(name) is not None:
            return f"a connection named {name!r} already exists"
        other = await store.by_username(qbwc_user)
        if other is not None:
            return f"QBWC user {qbwc_user!r} is already used by connection {other.name!r}"
        await store.put(connection)
        return None

    error = _with_store(add)
    if error:
        _fail(error)
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


@connection_app.command("list")
def connection_list() -> None:
    """List connections."""

    async def list_all(store: ConnectionStore) -> list[Connection]:
        return await store.all()

    found = _with_store(list_all)
    if not found:
        typer.echo(
            "No connections yet: `mlconnector connection add NAME --tenant ... --qbwc-user ...`"
        )
    for c in found:
        typer.echo(f"{c.name}\ttenant {c.tenant}\tqbwc user {c.qbwc_username}")


@connection_app.command("show")
def connection_show(name: str) -> None:
    """Show one connection and its mapping settings."""
    typer.echo(conn_cmds.describe(_connection(name)))


@connection_app.command("remove")
def connection_remove(name: str) -> None:
    """Remove a connection (its records stay in the audit trail)."""

    async def delete(store: ConnectionStore) -> bool:
        return await store.delete(name)

    if not _with_store(delete):
        _fail(f"no connection named {name!r}")
    typer.echo(f"Removed connection {name!r}.")


@app.command()
def qwc(
    name: str,
    url: Annotated[str | None, typer.Option(help="gateway URL (default: QBWC_PUBLIC_URL)")] = None,
    every_minutes: Annotated[int, typer.Option(help="Web Connector schedule")] = 5,
) -> None:
    """Print the .qwc file that adds this connection to the QuickBooks Web Connector."""
    from mlconnector.gateway.settings import GatewaySettings

    app_url = url or GatewaySettings().qbwc_public_url
    found = _connection(name)
    try:
        typer.echo(build_qwc(found, app_url, every_minutes), nl=False)
    except QwcError as exc:
        _fail(str(exc))


@app.command()
def replay(
    since: Annotated[str | None, typer.Option(help="ISO date-time; default: everything")] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    entity: Annotated[str | None, typer.Option()] = None,
    st_id: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Replay ServiceTitan events from the NATS stream; already posted records are not re-posted."""
    body = {
        k: v
        for k, v in {
            "stream": "ST_EVENTS",
            "since": since,
            "tenant": tenant,
            "entity": entity,
            "st_id": st_id,
        }.items()
        if v is not None
    }
    request = urllib.request.Request(
        f"{audit_url()}/api/replay",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            typer.echo(json.dumps(json.loads(response.read()), indent=2))
    except urllib.error.HTTPError as exc:
        _fail(f"audit answered {exc.code}: {exc.read().decode(errors='replace')}")
    except OSError as exc:
        _fail(f"cannot reach the audit service at {audit_url()}: {exc}")


@app.command()
def status() -> None:
    """Is everything up, and what is waiting?"""
    state = read_state()
    checks = {"audit": audit_url()}
    if state:
        checks.update(
            {"qbwc-gateway": state.gateway_url.removesuffix("/qbwc"), "st-ingest": state.ingest_url}
        )
    for name, base in checks.items():
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                typer.echo(
                    f"{name:14} up       {base}"
                    if response.status == 200
                    else f"{name:14} status {response.status}"
                )
        except OSError:
            typer.echo(f"{name:14} DOWN     {base}")
    try:
        with urllib.request.urlopen(f"{audit_url()}/api/records?limit=1000", timeout=5) as resp:
            records = json.loads(resp.read())
    except (OSError, ValueError):
        return
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    typer.echo("records: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))


@sim_app.command(
    "quickbooks",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sim_quickbooks(ctx: typer.Context) -> None:
    """Simulated Web Connector cycles (faults too); `company LIST` shows the company file."""
    from mlconnector.qbsim.main import run

    raise typer.Exit(run(list(ctx.args)))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
