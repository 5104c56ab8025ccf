"""The tenant's setup lists the onboarding review reads: the pricebook (materials, equipment,
services), GL accounts, tax zones and business units.

Shapes follow the documents' list responses: tenant-pricebook-v2.json (MaterialResponse,
EquipmentResponse, ServiceGetResponse; `code` is the SKU), tenant-accounting-v2.json
(GlAccountExtendedResponse, TaxZoneResponse with TaxRateResponse rates, whose `taxRate` is a
fraction, 0.0825 for 8.25%) and tenant-settings-v2.json (BusinessUnitResponse, with
`quickbooksClass`). The "demo" seed holds the SKUs, GL accounts, business units and tax zones
the demo day's invoices and bills use.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from decimal import Decimal
from typing import Any, Literal

from mlconnector.stsandbox.seed import (
    BILLS,
    BU_HVAC,
    BU_PLUMBING,
    COST_OF_LABOR,
    COST_OF_MATERIALS,
    INVENTORY_ASSET,
    INVOICES,
    JOB_MATERIALS,
    MATERIALS_INCOME,
    SERVICE_INCOME,
    TAX_RATE_PERCENT,
    UNDEPOSITED_FUNDS,
    GLAccountSpec,
    st_time,
)

CatalogList = Literal[
    "materials", "equipment", "services", "gl-accounts", "tax-zones", "business-units"
]
CATALOG_LISTS: tuple[CatalogList, ...] = (
    "materials",
    "equipment",
    "services",
    "gl-accounts",
    "tax-zones",
    "business-units",
)
SEED_TIME = dt.datetime(2022, 1, 10, 15, 0, tzinfo=dt.UTC)


def _stamps(when: dt.datetime | None) -> dict[str, str]:
    text = st_time(when or SEED_TIME)
    return {"createdOn": text, "modifiedOn": text}


def _money(value: Decimal | str | float) -> float:
    return float(Decimal(str(value)))


def _sku_common(
    sku_id: int, code: str, description: str, price: Decimal | str, cost: Decimal | str
) -> dict[str, Any]:
    return {
        "id": sku_id,
        "code": code,
        "displayName": description,
        "description": description,
        "active": True,
        "price": _money(price),
        "memberPrice": _money(price),
        "addOnPrice": _money(price),
        "addOnMemberPrice": _money(price),
        "hours": 0.0,
        "bonus": 0.0,
        "commissionBonus": 0.0,
        "paysCommission": False,
        "cost": _money(cost),
        "categories": [],
        "assets": [],
        "source": None,
        "externalId": None,
        "externalData": None,
    }


def material_json(
    sku_id: int,
    code: str,
    description: str,
    price: Decimal | str = "0",
    cost: Decimal | str = "0",
    *,
    active: bool = True,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """A pricebook material (Pricebook.V2.MaterialResponse)."""
    return {
        **_sku_common(sku_id, code, description, price, cost),
        "active": active,
        "deductAsJobCost": False,
        "unitOfMeasure": None,
        "isInventory": True,
        "account": MATERIALS_INCOME.name,
        "costOfSaleAccount": COST_OF_MATERIALS.name,
        "assetAccount": INVENTORY_ASSET.name,
        "taxable": True,
        "primaryVendor": None,
        "otherVendors": None,
        "isConfigurableMaterial": False,
        "chargeableByDefault": True,
        "variationsOrConfigurableMaterials": None,
        "businessUnitId": None,
        "createdById": 1,
        "displayInAmount": False,
        "generalLedgerAccountId": MATERIALS_INCOME.id,
        "isOtherDirectCost": False,
        "costTypeId": None,
        **_stamps(when),
    }


def equipment_json(
    sku_id: int,
    code: str,
    description: str,
    price: Decimal | str = "0",
    cost: Decimal | str = "0",
    *,
    active: bool = True,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """A pricebook equipment SKU (Pricebook.V2.EquipmentResponse)."""
    return {
        **_sku_common(sku_id, code, description, price, cost),
        "active": active,
        "manufacturer": None,
        "model": None,
        "manufacturerWarranty": {"duration": 12, "description": None},
        "serviceProviderWarranty": {"duration": 12, "description": None},
        "recommendations": [],
        "upgrades": [],
        "equipmentMaterials": [],
        "primaryVendor": None,
        "otherVendors": None,
        "account": MATERIALS_INCOME.name,
        "costOfSaleAccount": COST_OF_MATERIALS.name,
        "assetAccount": INVENTORY_ASSET.name,
        "crossSaleGroup": None,
        "taxable": True,
        "unitOfMeasure": None,
        "isInventory": True,
        "isConfigurableEquipment": False,
        "variationsOrConfigurableEquipment": None,
        "typeId": None,
        "displayInAmount": False,
        "generalLedgerAccountId": MATERIALS_INCOME.id,
        **_stamps(when),
    }


def service_json(
    sku_id: int,
    code: str,
    description: str,
    price: Decimal | str = "0",
    *,
    active: bool = True,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """A pricebook service (Pricebook.V2.ServiceGetResponse)."""
    return {
        **_sku_common(sku_id, code, description, price, "0"),
        "active": active,
        "warranty": None,
        "taxable": False,
        "account": SERVICE_INCOME.name,
        "isLabor": True,
        "recommendations": [],
        "upgrades": [],
        "serviceMaterials": [],
        "serviceEquipment": [],
        "crossSaleGroup": None,
        "businessUnitId": None,
        "soldByCommission": 0.0,
        **_stamps(when),
    }


def gl_account_json(
    spec: GLAccountSpec, *, active: bool = True, when: dt.datetime | None = None
) -> dict[str, Any]:
    """A GL account (Accounting.V2.GlAccountExtendedResponse)."""
    return {
        "id": spec.id,
        "name": spec.name,
        "number": spec.number,
        "description": None,
        "type": spec.type,
        "subtype": spec.detail_type,
        "active": active,
        "isIntacctGroup": False,
        "isIntacctBankAccount": False,
        "source": "AccountingSystem",
        "defaultAccountType": None,
        **_stamps(when),
    }


def tax_zone_json(
    zone_id: int,
    name: str,
    rate_percent: Decimal | str,
    *,
    sales_tax_item: str | None = None,
    active: bool = True,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """A tax zone with one rate (Accounting.V2.TaxZoneResponse); `taxRate` is a fraction."""
    return {
        "id": zone_id,
        "name": name,
        "color": None,
        "isTaxRateSeparated": False,
        "isMultipleTaxZone": False,
        "rates": [
            {
                "id": zone_id * 10,
                "taxName": name,
                "taxBaseType": ["Material"],
                "taxRate": float(Decimal(str(rate_percent)) / 100),
                "salesTaxItem": sales_tax_item,
            }
        ],
        "active": active,
        **_stamps(when),
    }


def business_unit_json(
    unit_id: int,
    name: str,
    *,
    quickbooks_class: str | None = None,
    active: bool = True,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """A business unit (TenantSettings.V2.BusinessUnitResponse)."""
    return {
        "id": unit_id,
        "active": active,
        "name": name,
        "officialName": name,
        "email": None,
        "currency": "USD",
        "phoneNumber": None,
        "invoiceHeader": None,
        "invoiceMessage": None,
        "defaultTaxRate": None,
        "authorizationParagraph": None,
        "acknowledgementParagraph": None,
        "address": None,
        "materialSku": None,
        "quickbooksClass": quickbooks_class,
        "accountCode": None,
        "franchiseId": None,
        "conceptCode": None,
        "corporateContractNumber": None,
        "trade": None,
        "division": None,
        "tagTypeIds": None,
        "tenant": None,
        "externalData": None,
        **_stamps(when),
    }


def demo_catalog() -> dict[CatalogList, list[dict[str, Any]]]:
    """The demo day's SKUs (from its invoices and bills), GL accounts, units and zones."""
    materials: dict[int, dict[str, Any]] = {}
    equipment: dict[int, dict[str, Any]] = {}
    services: dict[int, dict[str, Any]] = {}
    for invoice in INVOICES:
        for line in invoice.lines:
            if line.type == "Service":
                services.setdefault(
                    line.sku_id, service_json(line.sku_id, line.sku_name, line.sku_name, line.price)
                )
            elif line.type == "Equipment":
                equipment.setdefault(
                    line.sku_id,
                    equipment_json(
                        line.sku_id, line.sku_name, line.description, line.price, line.unit_cost
                    ),
                )
            else:
                materials.setdefault(
                    line.sku_id,
                    material_json(
                        line.sku_id, line.sku_name, line.description, line.price, line.unit_cost
                    ),
                )
    for bill in BILLS:
        for item in bill.items:
            materials.setdefault(
                item.sku_id, material_json(item.sku_id, item.sku_code, item.name, "0", item.cost)
            )
    accounts = (
        SERVICE_INCOME,
        MATERIALS_INCOME,
        COST_OF_LABOR,
        COST_OF_MATERIALS,
        INVENTORY_ASSET,
        JOB_MATERIALS,
        UNDEPOSITED_FUNDS,
    )
    return {
        "materials": sorted(materials.values(), key=lambda r: int(r["id"])),
        "equipment": sorted(equipment.values(), key=lambda r: int(r["id"])),
        "services": sorted(services.values(), key=lambda r: int(r["id"])),
        "gl-accounts": [gl_account_json(spec) for spec in accounts],
        "tax-zones": [
            tax_zone_json(
                31, "Travis County 8.25%", TAX_RATE_PERCENT, sales_tax_item="ST Sales Tax"
            ),
            tax_zone_json(32, "Round Rock 6.25%", "6.25", sales_tax_item="Round Rock Tax"),
        ],
        "business-units": [
            business_unit_json(BU_PLUMBING[0], BU_PLUMBING[1]),
            business_unit_json(BU_HVAC[0], BU_HVAC[1]),
        ],
    }


class Catalog:
    """One tenant's setup lists, by id; thread-safe like the store it belongs to."""

    def __init__(self, seed: str = "demo") -> None:
        self._lock = threading.RLock()
        self._lists: dict[CatalogList, dict[int, dict[str, Any]]] = {
            name: {} for name in CATALOG_LISTS
        }
        if seed == "demo":
            for name, records in demo_catalog().items():
                self.put_many(name, records)

    def put_many(self, name: CatalogList, records: list[dict[str, Any]]) -> None:
        """Add or replace records as they are (tests and seeds build them with the
        `*_json` helpers)."""
        with self._lock:
            for record in records:
                self._lists[name][int(record["id"])] = copy.deepcopy(record)

    def clear(self, name: CatalogList) -> None:
        with self._lock:
            self._lists[name].clear()

    def count(self, name: CatalogList) -> int:
        with self._lock:
            return len(self._lists[name])

    def page(
        self,
        name: CatalogList,
        *,
        page: int,
        page_size: int,
        include_total: bool,
        active: Literal["True", "Any", "False"] = "True",
        ids: set[int] | None = None,
    ) -> dict[str, Any]:
        """A PaginatedResponse in id order; only active records unless `active` says
        otherwise ("only active items will be returned by default", in each document)."""
        with self._lock:
            chosen = [
                copy.deepcopy(record)
                for record_id, record in sorted(self._lists[name].items())
                if (ids is None or record_id in ids)
                and (active == "Any" or bool(record.get("active", True)) == (active == "True"))
            ]
        start = (page - 1) * page_size
        chunk = chosen[start : start + page_size]
        return {
            "page": page,
            "pageSize": page_size,
            "hasMore": len(chosen) > start + len(chunk),
            "totalCount": len(chosen) if include_total else None,
            "data": chunk,
        }
