"""ServiceTitan operator commands: `mlconnector connection credentials C`, `mlconnector
backfill C --from DATE`, `mlconnector st check C`, `mlconnector st fetch C ENTITY`.

Self-contained: each error is one sentence on stderr and exit code 2. Calls to ServiceTitan go
through the tenant's shared rate limiter, like st-ingest's. `feed_section()` gives the
per-tenant feed lines `mlconnector status` shows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
import nats
import typer
from nats.js import JetStreamContext

from mlconnector.cli.registry import group
from mlconnector.cli.runtime import NoNatsError, nats_url
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.credentials import CredentialsError, CredentialStore, StCredentials
from mlconnector.common.envelopes import FeedReport
from mlconnector.common.streams import (
    KV_RATE_LIMITS,
    KV_ST_STATE,
    ST_EVENTS,
    declare_all,
)
from mlconnector.ingest.auth import StAuthError, TokenProvider
from mlconnector.ingest.client import EXPORT_PATHS, StApiError, StClient
from mlconnector.ingest.limiter import SharedRateLimiter
from mlconnector.ingest.poller import FEEDS, TRANSACTION_FEEDS, Feed, not_ready
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.state import StState
from mlconnector.ingest.tenants import env_credentials
from mlconnector.ingest.translate import TranslationError

T = TypeVar("T")
st_app = typer.Typer(help="Look at a connection's ServiceTitan tenant.", no_args_is_help=True)


def fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def _with_js(action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    async def go() -> T:
        nc = await nats.connect(nats_url(), connect_timeout=5, max_reconnect_attempts=0)
        try:
            js = nc.jetstream()
            await declare_all(js)
            return await action(js)
        finally:
            await nc.close()

    try:
        return asyncio.run(go())
    except NoNatsError as exc:
        fail(str(exc))
    except CredentialsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach NATS ({exc}); is `mlconnector up` running or NATS_URL right?")


async def _connection(js: JetStreamContext, name: str) -> Connection:
    found = await (await ConnectionStore.open(js)).get(name)
    if found is None:
        raise CredentialsError(f"no connection named {name!r}; see `mlconnector connection list`.")
    return found


# --- connection credentials -----------------------------------------------------------------


def connection_credentials(
    name: str,
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin",
            help="read client id, client secret, app key (and a webhook secret) from stdin, "
            "one a line",
        ),
    ] = False,
    api_base_url: Annotated[
        str, typer.Option(help="API host (integration: https://api-integration.servicetitan.io)")
    ] = "",
    auth_url: Annotated[str, typer.Option(help="auth host")] = "",
    remove: Annotated[bool, typer.Option(help="forget this connection's credentials")] = False,
) -> None:
    """Store this connection's ServiceTitan client credentials, encrypted with
    MLCONNECTOR_CREDENTIALS_KEY (typed at a prompt, or read from stdin)."""
    if remove:

        async def forget(js: JetStreamContext) -> None:
            await _connection(js, name)
            await (await CredentialStore.open(js)).delete(name)

        _with_js(forget)
        typer.echo(f"Removed the ServiceTitan credentials of connection {name!r}.")
        return
    if stdin:
        lines = [line.strip() for line in sys.stdin.read().splitlines()]
        values = [*lines, "", "", "", ""][:4]
    else:
        values = [
            input("ServiceTitan client id: ").strip(),
            getpass.getpass("Client secret: ").strip(),
            getpass.getpass("App key (ST-App-Key): ").strip(),
            getpass.getpass("Webhook secret (Enter for none): ").strip(),
        ]
    client_id, client_secret, app_key, webhook = values
    missing = [
        n
        for n, v in (
            ("client id", client_id),
            ("client secret", client_secret),
            ("app key", app_key),
        )
        if not v
    ]
    if missing:
        fail(f"the {', '.join(missing)} cannot be empty; nothing was stored.")
    credentials = StCredentials.model_validate(
        {
            "client_id": client_id,
            "client_secret": client_secret,
            "app_key": app_key,
            "api_base_url": api_base_url,
            "auth_url": auth_url,
            "webhook_secret": webhook or None,
        }
    )

    async def store(js: JetStreamContext) -> None:
        await _connection(js, name)
        await (await CredentialStore.open(js)).put(name, credentials)

    _with_js(store)
    typer.echo(
        f"Stored the ServiceTitan credentials of connection {name!r} (encrypted). st-ingest "
        "uses them within a minute; `mlconnector st check "
        f"{name}` tries them now."
    )


# --- backfill -------------------------------------------------------------------------------


def backfill(
    name: str,
    since: Annotated[str, typer.Option("--from", help="first day to bring in (YYYY-MM-DD)")],
) -> None:
    """Bring in invoices, payments and bills dated from DATE on, on purpose (the connection's
    start date moves back to DATE); already posted records are never posted twice."""
    try:
        day = dt.date.fromisoformat(since)
    except ValueError:
        fail(f"--from {since!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-01-01.")
    if day > dt.datetime.now(dt.UTC).date():
        fail(f"--from {day} is in the future; give the first day of the history to bring in.")

    async def ask(js: JetStreamContext) -> Connection:
        connection = await _connection(js, name)
        if day < connection.sync_from:
            connection = connection.model_copy(update={"sync_from": day})
            await (await ConnectionStore.open(js)).put(connection)
        state = StState(await js.key_value(KV_ST_STATE), "cli")
        await state.request_backfill(connection.tenant, day, TRANSACTION_FEEDS)
        return connection

    connection = _with_js(ask)
    typer.echo(
        f"Backfill of tenant {connection.tenant} from {day} asked; st-ingest starts it at its "
        f"next poll. Connection {name!r} now starts on {connection.sync_from}."
    )


# --- st check / st fetch --------------------------------------------------------------------


async def _client(
    js: JetStreamContext, connection: Connection, http: httpx.AsyncClient
) -> tuple[StClient, TokenProvider]:
    settings = IngestSettings()
    creds = await (await CredentialStore.open(js)).get(connection.name)
    if creds is None and connection.tenant == settings.st_tenant:
        creds = env_credentials(settings)
    if creds is None:
        raise CredentialsError(
            f"connection {connection.name!r} has no ServiceTitan credentials; store them with "
            f"`mlconnector connection credentials {connection.name}`."
        )
    tokens = TokenProvider(
        http,
        creds.auth_url or settings.st_auth_url,
        creds.client_id,
        creds.client_secret.get_secret_value(),
    )
    limiter = SharedRateLimiter(
        await js.key_value(KV_RATE_LIMITS),
        connection.tenant,
        settings.st_rate_limit,
        settings.st_rate_window_seconds,
    )
    client = StClient(
        http,
        tokens,
        creds.api_base_url or settings.st_api_base_url,
        creds.app_key.get_secret_value(),
        connection.tenant,
        max_retries=2,
        limiter=limiter,
    )
    return client, tokens


# The scopes st-ingest needs (tenant-*-v2.json `security`), by what they allow.
NEEDED_SCOPES = {
    "tn.crm.customers:r": "read customers",
    "tn.inv.vendors:r": "read vendors",
    "tn.acc.invoices:r": "read invoices",
    "tn.acc.payments:r": "read payments",
    "tn.acc.inventorybills:r": "read inventory bills",
    "tn.acc.invoices:w": "mark invoices exported",
    "tn.acc.inventorybills:w": "mark inventory bills exported",
    "tn.acc.payments:w": "set payments exported",
    "tn.crm.customers:w": "write customers changed in QuickBooks",
    "tn.inv.vendors:w": "write vendors changed in QuickBooks",
}


@st_app.command("check")
def check(name: str) -> None:
    """Try the connection's credentials: token, app key, tenant, and which modules answer 403."""

    async def go(js: JetStreamContext) -> list[str]:
        connection = await _connection(js, name)
        problems: list[str] = []
        async with httpx.AsyncClient(timeout=20) as http:
            client, tokens = await _client(js, connection, http)
            try:
                await tokens.token()
            except StAuthError as exc:
                typer.echo(f"token        REFUSED  {exc}")
                return ["token"]
            typer.echo("token        ok")
            granted = set(tokens.scope.split())
            for scope, what in NEEDED_SCOPES.items():
                if granted and scope not in granted:
                    typer.echo(f"scope        missing  {scope} (cannot {what})")
                    problems.append(scope)
            for feed in FEEDS:
                try:
                    if feed.listed:
                        await client.list_page("vendors", {"page": "1", "pageSize": "1"})
                    else:
                        await client.get_json(
                            EXPORT_PATHS[feed.name],  # type: ignore[index]
                            {"from": dt.date.today().isoformat()},
                        )
                    typer.echo(f"{feed.name:12} ok")
                except StApiError as exc:
                    problems.append(feed.name)
                    meaning = {
                        401: "the app key or token is refused",
                        403: "forbidden: the tenant lacks this module, or the app key is wrong",
                        404: f"tenant {connection.tenant} not found (check --tenant and the host)",
                    }.get(exc.status or 0, str(exc))
                    typer.echo(f"{feed.name:12} HTTP {exc.status}  {meaning}")
        return problems

    problems = _with_js(go)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found.")
        raise typer.Exit(1)
    typer.echo("ServiceTitan answers every call st-ingest makes.")


ENTITY_FEEDS: dict[str, Feed] = {f.name: f for f in FEEDS} | {f.entity: f for f in FEEDS}


@st_app.command("fetch")
def fetch(
    name: str,
    entity: str,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="records to read")] = 20,
) -> None:
    """Read a feed's first records: each as the canonical record st-ingest would publish, or
    why it would be rejected or skipped (JSON)."""
    feed = ENTITY_FEEDS.get(entity)
    if feed is None:
        fail(f"unknown entity {entity!r}; use one of {', '.join(f.name for f in FEEDS)}.")

    async def go(js: JetStreamContext) -> dict[str, Any]:
        connection = await _connection(js, name)
        out: dict[str, Any] = {"records": [], "rejected": [], "skipped": []}
        async with httpx.AsyncClient(timeout=30) as http:
            client, _ = await _client(js, connection, http)
            raws: list[Any] = []
            try:
                if feed.listed:
                    page = await client.list_page(
                        "vendors", {"page": "1", "pageSize": str(limit), "active": "Any"}
                    )
                    raws = page.data[:limit]
                elif feed.name != "vendors":
                    token: str | None = None
                    while len(raws) < limit:
                        got = await client.export(feed.name, token)
                        raws += got.data
                        token = got.continue_from
                        if not got.has_more:
                            break
            except (StApiError, StAuthError) as exc:
                raise CredentialsError(f"ServiceTitan refused the read: {exc}") from exc
        for raw in raws[:limit]:
            try:
                reason = not_ready(feed, raw)
                if reason is not None:
                    out["skipped"].append({"id": raw.get("id"), "why": reason})
                    continue
                record = feed.translate(raw)
                out["records"].append(record.model_dump(mode="json"))
            except TranslationError as exc:
                out["rejected"].append({"id": exc.record_id, "why": str(exc)})
        return out

    typer.echo(json.dumps(_with_js(go), indent=2))


# --- for `mlconnector status` ----------------------------------------------------------------


def feed_section(js_url: str | None = None) -> list[str]:
    """One line per tenant and feed from the latest FeedReport each (st.feeds.<tenant>.<entity>
    in ST_EVENTS): "tenant 1234567  invoice  stuck  <why>". [] when none was reported."""

    async def go() -> list[str]:
        nc = await nats.connect(js_url or nats_url(), connect_timeout=5, max_reconnect_attempts=0)
        try:
            js = nc.jetstream()
            info = await js.stream_info(ST_EVENTS.name, subjects_filter="st.feeds.>")
            lines = []
            for subject in sorted(info.state.subjects or {}):
                msg = await js.get_last_msg(ST_EVENTS.name, subject)
                report = FeedReport.model_validate_json(msg.data or b"{}")
                why = f"  {report.error}" if report.error else ""
                lines.append(f"tenant {report.tenant}  {report.entity:10} {report.state}{why}")
            return lines
        finally:
            await nc.close()

    return asyncio.run(go())


def register(app: typer.Typer) -> None:
    group(app, "connection").command("credentials")(connection_credentials)
    app.command("backfill")(backfill)
    app.add_typer(st_app, name="st")
