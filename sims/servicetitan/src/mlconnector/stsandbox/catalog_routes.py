"""The list endpoints of the setup lists (catalog.py), as the documents declare them:

- pricebook (tenant-pricebook-v2.json): GET /pricebook/v2/tenant/{tenant}/materials,
  /equipment, /services;
- accounting (tenant-accounting-v2.json): GET /accounting/v2/tenant/{tenant}/gl-accounts,
  /tax-zones;
- settings (tenant-settings-v2.json): GET /settings/v2/tenant/{tenant}/business-units.

Each takes `page` (from 1), `pageSize` (50 by default), `includeTotal`, `active` (True, Any,
False; True by default) and `ids` (comma-delimited); the other documented filters are accepted
and not applied (the onboarding review reads whole lists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from mlconnector.stsandbox.catalog import CatalogList
from mlconnector.stsandbox.problems import problem

Guard = Callable[[Request, str, str | None, str | None], Response | None]

PATHS: dict[CatalogList, str] = {
    "materials": "/pricebook/v2/tenant/{tenant}/materials",
    "equipment": "/pricebook/v2/tenant/{tenant}/equipment",
    "services": "/pricebook/v2/tenant/{tenant}/services",
    "gl-accounts": "/accounting/v2/tenant/{tenant}/gl-accounts",
    "tax-zones": "/accounting/v2/tenant/{tenant}/tax-zones",
    "business-units": "/settings/v2/tenant/{tenant}/business-units",
}
_ACTIVE = {"true": "True", "any": "Any", "false": "False"}


def add_catalog_routes(app: FastAPI, guard: Guard, tenant_store: Callable[[str], Any]) -> None:
    """Register the six list endpoints; `guard` does auth, faults, tenant and rate limit."""
    for name, path in PATHS.items():
        app.get(path, name=f"list_{name}")(_lister(name, guard, tenant_store))


def _lister(name: CatalogList, guard: Guard, tenant_store: Callable[[str], Any]) -> Any:
    def list_records(
        request: Request,
        tenant: str,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(alias="pageSize", ge=1, le=5000)] = 50,
        include_total: Annotated[bool, Query(alias="includeTotal")] = False,
        active: str = "True",
        ids: str | None = None,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        active_arg = _ACTIVE.get(active.strip().lower())
        if active_arg is None:
            return problem(
                400,
                "One or more validation errors occurred.",
                {"active": [f"'{active}' is not one of True, Any, False"]},
            )
        wanted: set[int] | None = None
        if ids:
            try:
                wanted = {int(part) for part in ids.split(",") if part.strip()}
            except ValueError:
                return problem(
                    400,
                    "One or more validation errors occurred.",
                    {"ids": ["comma-delimited integers"]},
                )
        body = tenant_store(tenant).catalog.page(
            name,
            page=page,
            page_size=page_size,
            include_total=include_total,
            active=active_arg,
            ids=wanted,
        )
        return JSONResponse(body)

    return list_records
