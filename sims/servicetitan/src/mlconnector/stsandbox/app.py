"""The sandbox HTTP API: ServiceTitan's auth server and the export/list endpoints we use.

Paths, parameters and response shapes follow tenant-crm-v2.json, tenant-accounting-v2.json and
tenant-inventory-v2.json (servers `https://api.servicetitan.io/<module>/v2`), so a client only
swaps base URLs:

- exports (`from`, `includeRecentChanges`; continuation tokens): crm `export/customers`,
  accounting `export/invoices`, `export/payments`, `export/inventory-bills`;
- lists (`page`, `pageSize`, `includeTotal`, filters): accounting `invoices`, inventory
  `vendors` (active filter defaulting to active only, created/modified bounds, `sort`).
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from mlconnector.stsandbox.catalog_routes import add_catalog_routes
from mlconnector.stsandbox.exchanges import ExchangeRecorder
from mlconnector.stsandbox.problems import problem
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.store import (
    ENTITIES,
    EXPORTS,
    BadContinuationToken,
    Entity,
    Fault,
    SandboxStore,
    parse_st_time,
)
from mlconnector.stsandbox.writes import add_write_routes

SCOPES = (
    "tn.crm.customers:r tn.crm.customers:w tn.acc.invoices:r tn.acc.invoices:w "
    "tn.acc.payments:r tn.acc.payments:w tn.acc.inventorybills:r tn.acc.inventorybills:w "
    "tn.inv.vendors:r tn.inv.vendors:w"
)
ActiveArg = Literal["True", "Any", "False"]
ACTIVE_VALUES: dict[str, ActiveArg] = {"true": "True", "any": "Any", "false": "False"}
SORT_FIELDS = {"id": "id", "modifiedon": "modifiedon", "createdon": "createdon"}


class BadQuery(ValueError):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(problem)
        self.name = name


def _query_time(name: str, value: str | None) -> dt.datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_st_time(value.strip())
    except ValueError as exc:
        raise BadQuery(name, f"'{value}' is not a date-time") from exc


def _query_sort(value: str | None) -> tuple[str, bool]:
    """`+Field` ascending, `-Field` descending (a `+` sent unescaped arrives as a space)."""
    if value is None or not value.strip():
        return ("id", True)
    text = value.strip()
    ascending = not text.startswith("-")
    name = text.lstrip("+-").strip().lower()
    if name not in SORT_FIELDS:
        raise BadQuery("sort", f"cannot sort by '{text}': use Id, ModifiedOn or CreatedOn")
    return (SORT_FIELDS[name], ascending)


def _query_ids(values: list[str] | None) -> set[int] | None:
    if not values:
        return None
    try:
        return {int(part) for value in values for part in value.split(",") if part.strip()}
    except ValueError as exc:
        raise BadQuery("ids", "comma-delimited integers") from exc


class FaultRequest(BaseModel):
    status: int = 429
    times: int = 1
    retryAfter: str | None = None
    body: Any = None
    pathContains: str = ""


@dataclass
class TenantAccount:
    """One tenant the sandbox serves: the client credentials ServiceTitan issued for it and
    its records."""

    client_id: str
    client_secret: str
    store: SandboxStore


def create_app(
    settings: SandboxSettings | None = None, store: SandboxStore | None = None
) -> FastAPI:
    """The sandbox for `settings.tenant` (and any tenant added with `add_tenant`)."""
    settings = settings or SandboxSettings()
    store = store or SandboxStore(
        seed=settings.seed,
        page_size=settings.page_size,
        token_ttl_seconds=settings.token_ttl_seconds,
        rate_limit_per_second=settings.rate_limit_per_second,
    )
    app = FastAPI(title="ServiceTitan sandbox", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.store = store
    tenants: dict[str, TenantAccount] = {
        settings.tenant: TenantAccount(settings.client_id, settings.client_secret, store)
    }
    app.state.tenants = tenants
    if settings.record_exchanges:
        app.state.exchanges = []
        app.add_middleware(ExchangeRecorder, exchanges=app.state.exchanges)

    def issuer(token: str) -> str | None:
        for name, account in tenants.items():
            if account.store.token_valid(token):
                return name
        return None

    def guard(
        request: Request, tenant: str, authorization: str | None, app_key: str | None
    ) -> Response | None:
        """Auth, app key, injected faults, tenant, then the rate limit: the order
        ServiceTitan's gateway uses. A token is good only for the tenant whose client
        credentials obtained it."""
        account = tenants.get(tenant)
        (account.store if account else store).count_request(request.url.path)
        scheme, _, token = (authorization or "").partition(" ")
        owner = issuer(token.strip()) if scheme.lower() == "bearer" and token else None
        if owner is None:
            response = problem(401, "Unauthorized: missing, invalid or expired bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        if not app_key:
            return problem(401, "Unauthorized: the ST-App-Key header is required")
        if not secrets.compare_digest(app_key, settings.app_key):
            return problem(403, "Forbidden: ST-App-Key is not valid for this application")
        fault = (account.store if account else store).take_fault(request.url.path)
        if fault is not None:
            return _fault_response(fault)
        if account is None:
            return problem(404, f"Tenant {tenant} not found")
        if owner != tenant:
            return problem(403, f"Forbidden: the application is not connected to tenant {tenant}")
        wait = account.store.admit()
        if wait is not None:
            response = problem(429, "Too Many Requests: 60 calls per second per tenant")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        return None

    def tenant_store(tenant: str) -> SandboxStore:
        return tenants[tenant].store

    def export(
        entity: Entity,
        request: Request,
        tenant: str,
        from_: str | None,
        authorization: str | None,
        app_key: str | None,
    ) -> Response:
        denied = guard(request, tenant, authorization, app_key)
        if denied is not None:
            return denied
        try:
            return JSONResponse(tenant_store(tenant).export(entity, from_, copies=False))
        except BadContinuationToken as exc:
            return problem(400, "Invalid export continuation token", {"from": [str(exc)]})

    @app.post("/connect/token")
    async def token(request: Request) -> JSONResponse:
        # A urlencoded form parsed by hand: FastAPI's Form() needs python-multipart, which
        # is not a dependency, and this endpoint only ever receives three plain fields.
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        grant_type = form.get("grant_type", [""])[0]
        client_id = form.get("client_id", [""])[0]
        client_secret = form.get("client_secret", [""])[0]
        if grant_type != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        for account in tenants.values():
            good_id = secrets.compare_digest(client_id, account.client_id)
            good_secret = secrets.compare_digest(client_secret, account.client_secret)
            if good_id and good_secret:
                return JSONResponse(
                    {
                        "access_token": account.store.issue_token(),
                        "expires_in": settings.token_ttl_seconds,
                        "token_type": "Bearer",
                        "scope": SCOPES,
                    },
                    headers={"Cache-Control": "no-store"},
                )
        return JSONResponse({"error": "invalid_client"}, status_code=400)

    add_write_routes(app, guard, tenant_store)
    add_catalog_routes(app, guard, tenant_store)

    @app.get("/crm/v2/tenant/{tenant}/export/customers")
    def export_customers(
        request: Request,
        tenant: str,
        from_: Annotated[str | None, Query(alias="from")] = None,
        include_recent_changes: Annotated[bool, Query(alias="includeRecentChanges")] = False,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        # includeRecentChanges only makes ServiceTitan surface changes sooner; the sandbox's
        # feed is always current, so the flag is accepted and changes nothing.
        return export("customers", request, tenant, from_, authorization, st_app_key)

    @app.get("/accounting/v2/tenant/{tenant}/export/invoices")
    def export_invoices(
        request: Request,
        tenant: str,
        from_: Annotated[str | None, Query(alias="from")] = None,
        include_recent_changes: Annotated[bool, Query(alias="includeRecentChanges")] = False,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        return export("invoices", request, tenant, from_, authorization, st_app_key)

    @app.get("/accounting/v2/tenant/{tenant}/export/payments")
    def export_payments(
        request: Request,
        tenant: str,
        from_: Annotated[str | None, Query(alias="from")] = None,
        include_recent_changes: Annotated[bool, Query(alias="includeRecentChanges")] = False,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        return export("payments", request, tenant, from_, authorization, st_app_key)

    @app.get("/accounting/v2/tenant/{tenant}/export/inventory-bills")
    def export_inventory_bills(
        request: Request,
        tenant: str,
        from_: Annotated[str | None, Query(alias="from")] = None,
        include_recent_changes: Annotated[bool, Query(alias="includeRecentChanges")] = False,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        return export("inventory-bills", request, tenant, from_, authorization, st_app_key)

    @app.get("/inventory/v2/tenant/{tenant}/vendors")
    def list_vendors(
        request: Request,
        tenant: str,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(alias="pageSize", ge=1, le=5000)] = 50,
        include_total: Annotated[bool, Query(alias="includeTotal")] = False,
        ids: Annotated[list[str] | None, Query()] = None,
        active: str = "True",
        created_before: Annotated[str | None, Query(alias="createdBefore")] = None,
        created_on_or_after: Annotated[str | None, Query(alias="createdOnOrAfter")] = None,
        modified_before: Annotated[str | None, Query(alias="modifiedBefore")] = None,
        modified_on_or_after: Annotated[str | None, Query(alias="modifiedOnOrAfter")] = None,
        sort: str | None = None,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        try:
            # "only active items will be returned by default" (tenant-inventory-v2.json)
            active_arg = ACTIVE_VALUES.get(active.strip().lower())
            if active_arg is None:
                raise BadQuery("active", f"'{active}' is not one of True, Any, False")
            body = tenant_store(tenant).query(
                "vendors",
                page=page,
                page_size=page_size,
                include_total=include_total,
                ids=_query_ids(ids),
                active=active_arg,
                created_before=_query_time("createdBefore", created_before),
                created_on_or_after=_query_time("createdOnOrAfter", created_on_or_after),
                modified_before=_query_time("modifiedBefore", modified_before),
                modified_on_or_after=_query_time("modifiedOnOrAfter", modified_on_or_after),
                sort=_query_sort(sort),
            )
        except BadQuery as exc:
            return problem(400, "One or more validation errors occurred.", {exc.name: [str(exc)]})
        return JSONResponse(body)

    @app.get("/accounting/v2/tenant/{tenant}/invoices")
    def list_invoices(
        request: Request,
        tenant: str,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(alias="pageSize", ge=1, le=5000)] = 50,
        include_total: Annotated[bool, Query(alias="includeTotal")] = False,
        ids: str | None = None,
        statuses: Annotated[list[str] | None, Query()] = None,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        records = sorted(tenant_store(tenant).all("invoices"), key=lambda r: int(r["id"]))
        if ids:
            try:
                wanted = {int(part) for part in ids.split(",") if part.strip()}
            except ValueError:
                return problem(400, "Invalid ids", {"ids": ["comma-delimited integers"]})
            records = [r for r in records if int(r["id"]) in wanted]
        if statuses:
            records = [r for r in records if r.get("syncStatus") in statuses]
        start = (page - 1) * page_size
        chunk = records[start : start + page_size]
        return JSONResponse(
            {
                "page": page,
                "pageSize": page_size,
                "hasMore": len(records) > start + len(chunk),
                "totalCount": len(records) if include_total else None,
                "data": chunk,
            }
        )

    # --- sandbox controls (not part of ServiceTitan's API) --------------------------------

    @app.post("/_sandbox/faults", status_code=204)
    def add_fault(fault: FaultRequest) -> None:
        store.inject_fault(
            fault.status, fault.times, fault.retryAfter, fault.body, fault.pathContains
        )

    def putter(entity: Entity) -> Any:
        def put_record(record: dict[str, Any]) -> dict[str, Any]:
            return store.put(entity, record)

        return put_record

    # Add or replace a record (a new version with modifiedOn = now), e.g. /_sandbox/payments.
    for entity in ENTITIES:
        app.post(f"/_sandbox/{entity}", name=f"put_{entity}")(putter(entity))

    @app.post("/_sandbox/stuck/{entity}", status_code=204)
    def stick(entity: str, times: int = 1_000_000) -> Response:
        """Make an export repeat its continuation token (a stuck feed), `times` reads."""
        if entity not in EXPORTS:
            return problem(404, f"no export named {entity}")
        store.stick(entity, times)
        return Response(status_code=204)

    @app.get("/_sandbox/stats")
    def stats() -> dict[str, Any]:
        return {
            "tokenRequests": store.token_requests,
            "apiRequests": dict(store.api_requests),
            "maxCallsInAnySecond": {
                name: account.store.max_calls_in_any_second() for name, account in tenants.items()
            },
            # Calls per tenant and the seconds from the first to the last (benchmarks).
            "calls": {name: len(a.store.call_times) for name, a in tenants.items()},
            "callSpanSeconds": {
                name: (a.store.call_times[-1] - a.store.call_times[0]) if a.store.call_times else 0
                for name, a in tenants.items()
            },
        }

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "tenant": settings.tenant}

    return app


def _fault_response(fault: Fault) -> Response:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    if isinstance(fault.body, str):
        return PlainTextResponse(fault.body, status_code=fault.status, headers=headers)
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status, headers=headers)
    response = problem(fault.status, _fault_title(fault.status))
    response.headers.update(headers)
    return response


def _fault_title(status: int) -> str:
    if status == 429:
        return "Too Many Requests"
    if status == 409:
        return "Tenant is suspended for maintenance"
    return "Injected sandbox fault"


def add_tenant(
    app: FastAPI, tenant: str, client_id: str, client_secret: str, store: SandboxStore
) -> SandboxStore:
    """Serve another tenant from the same sandbox, with its own client credentials."""
    tenants: dict[str, TenantAccount] = app.state.tenants
    tenants[tenant] = TenantAccount(client_id, client_secret, store)
    return store
