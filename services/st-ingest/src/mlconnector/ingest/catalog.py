"""ServiceTitan's setup lists for the onboarding review: the pricebook's SKUs, GL accounts,
business units and tax zones, read whole from their list endpoints.

Paths and fields from the documents: tenant-pricebook-v2.json (`materials`, `equipment`,
`services`; `code` is the SKU an invoice item names in `skuName`), tenant-accounting-v2.json
(`gl-accounts`: `name`, `number`; `tax-zones`: `rates[]` with `taxRate` as a fraction and the
QuickBooks `salesTaxItem` ServiceTitan keeps for it) and tenant-settings-v2.json
(`business-units`: `quickbooksClass`). Inactive records are read too (`active=Any`): an old
invoice may still name them. Pages of `pageSize` 500 (list endpoints allow up to 5000; FACTS).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from mlconnector.common.onboarding.matching import Section, StRecord
from mlconnector.ingest.client import StApiError, StClient

log = logging.getLogger(__name__)

PAGE_SIZE = 500
CATALOG_PATHS: dict[str, str] = {
    "materials": "/pricebook/v2/tenant/{tenant}/materials",
    "equipment": "/pricebook/v2/tenant/{tenant}/equipment",
    "services": "/pricebook/v2/tenant/{tenant}/services",
    "gl-accounts": "/accounting/v2/tenant/{tenant}/gl-accounts",
    "business-units": "/settings/v2/tenant/{tenant}/business-units",
    "tax-zones": "/accounting/v2/tenant/{tenant}/tax-zones",
}
_SECTION: dict[str, Section] = {
    "materials": "item",
    "equipment": "item",
    "services": "item",
    "gl-accounts": "account",
    "business-units": "business_unit",
    "tax-zones": "tax_zone",
}


async def list_all(client: StClient, name: str) -> list[dict[str, Any]]:
    """Every record of one list endpoint (pages until `hasMore` is false)."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = await client.get_json(
            CATALOG_PATHS[name], {"page": str(page), "pageSize": str(PAGE_SIZE), "active": "Any"}
        )
        try:
            data, more = list(body["data"]), bool(body["hasMore"])
        except (KeyError, TypeError) as exc:
            raise StApiError(
                f"ServiceTitan's {name} list answered without data/hasMore: {str(body)[:200]}"
            ) from exc
        records.extend(r for r in data if isinstance(r, dict))
        if not more or not data:
            return records
        page += 1


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _zone_rate(rates: Any) -> str | None:
    """A tax zone's total rate in percent ("8.25"), from fractional `taxRate`s."""
    if not isinstance(rates, list) or not rates:
        return None
    try:
        total = sum(
            (Decimal(str(rate["taxRate"])) for rate in rates if isinstance(rate, dict)),
            Decimal(0),
        )
    except (KeyError, InvalidOperation):
        return None
    return f"{(total * 100).normalize():f}"


def to_record(name: str, raw: dict[str, Any]) -> StRecord | None:
    """The matching record of one ServiceTitan list record (None: it has no id or name)."""
    section = _SECTION[name]
    record_id = raw.get("id")
    label = _text(raw.get("code")) if section == "item" else _text(raw.get("name"))
    if not isinstance(record_id, int) or label is None:
        log.warning("ServiceTitan %s record without an id or a name skipped: %.200s", name, raw)
        return None
    active = raw.get("active") is not False
    if section == "account":
        return StRecord(
            section=section,
            st_id=record_id,
            name=label,
            number=_text(raw.get("number")),
            active=active,
        )
    if section == "business_unit":
        return StRecord(
            section=section,
            st_id=record_id,
            name=label,
            class_hint=_text(raw.get("quickbooksClass")),
            active=active,
        )
    if section == "tax_zone":
        rates = raw.get("rates")
        items = {
            item
            for rate in (rates if isinstance(rates, list) else [])
            if isinstance(rate, dict) and (item := _text(rate.get("salesTaxItem")))
        }
        return StRecord(
            section=section,
            st_id=record_id,
            name=label,
            rate=_zone_rate(rates),
            class_hint=items.pop() if len(items) == 1 else None,
            active=active,
        )
    return StRecord(section=section, st_id=record_id, name=label, active=active)


async def read_catalog(client: StClient) -> dict[Section, list[StRecord]]:
    """Items (every SKU kind, by SKU), GL accounts, business units and tax zones."""
    out: dict[Section, list[StRecord]] = {
        "item": [],
        "account": [],
        "business_unit": [],
        "tax_zone": [],
    }
    for name in CATALOG_PATHS:
        for raw in await list_all(client, name):
            record = to_record(name, raw)
            if record is not None:
                out[record.section].append(record)
    return out
