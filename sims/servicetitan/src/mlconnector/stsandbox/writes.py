"""The sandbox's write endpoints: what an accounting integration writes back to ServiceTitan.

Each follows its operation in ServiceTitan's documents (request schema, answer schema):

- tenant-accounting-v2.json `Invoices_MarkAsExported` (POST invoices/markasexported, a list of
  `{invoiceId, externalId, externalMessage}`, answered per item `{invoiceId, success,
  errorMessage}`), `InventoryBills_MarkAsExported` (`{inventoryBillIds}`, per item
  `{inventoryBillId, success, errorMessage}`), `Payments_UpdateStatus` (`{paymentIds, status}`,
  200 without a body);
- tenant-crm-v2.json `Customers_Get`, `Customers_Update` (PATCH, answers the customer),
  `Customers_Create` (POST, answers the customer with its locations and contacts);
- tenant-inventory-v2.json `Vendors_GetById`, `Vendors_Update` and `Vendors_Create` (answer
  `ModificationResponse {id}`).

An exported invoice or payment becomes syncStatus "Exported", a Posted inventory bill
"PostedAndExported", and each is a new version (modifiedOn now) that the export feed carries
again, as ServiceTitan locks and re-lists an exported record. Request bodies are checked like
ServiceTitan's validation: unknown or mistyped fields answer 400 with an ApiErrorResponse
naming them (the documents mark every request schema `additionalProperties: false`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

from mlconnector.stsandbox.problems import problem
from mlconnector.stsandbox.seed import st_time
from mlconnector.stsandbox.store import SandboxStore

Guard = Callable[[Request, str, str | None, str | None], Response | None]
StoreOf = Callable[[str], SandboxStore]

# Field kinds of the request schemas, as far as the sandbox checks them.
_KINDS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "str?": lambda v: v is None or isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "bool?": lambda v: v is None or isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "int?": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
    "num": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "obj": lambda v: isinstance(v, dict),
    "obj?": lambda v: v is None or isinstance(v, dict),
    "arr": lambda v: isinstance(v, list),
    "arr?": lambda v: v is None or isinstance(v, list),
    "ints": lambda v: (
        isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in v)
    ),
}

CUSTOMER_TYPES = ("Residential", "Commercial")
DELIVERY_OPTIONS = (
    "Manual",
    "EmailAsExcel",
    "EmailAsPdf",
    "EmailAsPdfRollupView",
    "Electronic",
    "MarkAsSent",
    "EmailAsExcelAndPdf",
    "VendorPortal",
)
PAYMENT_STATUSES = ("Pending", "Posted", "Exported")

UPDATE_CUSTOMER = {
    "name": "str",
    "type": "str",
    "address": "obj",
    "customFields": "arr",
    "externalData": "obj",
    "doNotMail": "bool",
    "doNotService": "bool",
    "nationalAccount": "bool",
    "active": "bool",
    "tagTypeIds": "ints",
    "taxExempt": "bool",
    "paymentTermId": "int",
    "creditLimit": "num",
    "creditLimitBalance": "num",
}
UPDATE_CUSTOMER_ADDRESS = {
    "street": "str",
    "unit": "str",
    "city": "str",
    "state": "str",
    "zip": "str",
    "country": "str",
    "latitude": "num",
    "longitude": "num",
}
CUSTOMER_ADDRESS = {
    "street": "str",
    "unit": "str?",
    "city": "str",
    "state": "str",
    "zip": "str",
    "country": "str",
    "latitude": "num?",
    "longitude": "num?",
}
CREATE_CUSTOMER = {
    "name": "str",
    "type": "str?",
    "doNotMail": "bool?",
    "doNotService": "bool?",
    "nationalAccount": "bool?",
    "locations": "arr",
    "address": "obj",
    "contacts": "arr?",
    "customFields": "arr?",
    "tagTypeIds": "arr?",
    "externalData": "obj?",
}
NEW_LOCATION = {
    "name": "str",
    "address": "obj",
    "contacts": "arr?",
    "customFields": "arr?",
    "tagTypeIds": "arr?",
    "externalData": "obj?",
}
VENDOR_ADDRESS = {f: "str" for f in ("street", "unit", "city", "state", "zip", "country")}
UPDATE_VENDOR = {
    "name": "str",
    "active": "bool",
    "memo": "str",
    "firstName": "str",
    "lastName": "str",
    "phone": "str",
    "email": "str",
    "fax": "str",
    "isTruckReplenishment": "bool",
    "deliveryOption": "str",
    "taxRate": "num",
    "restrictedMobileCreation": "bool",
    "vendorQuickbooksItem": "str",
    "paymentTermId": "int",
    "remittanceVendorId": "int",
    "address": "obj",
    "tags": "arr",
    "vendorContacts": "arr",
    "externalData": "obj",
}
CREATE_VENDOR = {
    **{k: "str?" for k in ("memo", "firstName", "lastName", "phone", "email", "fax")},
    "name": "str",
    "active": "bool",
    "isTruckReplenishment": "bool",
    "deliveryOption": "str?",
    "taxRate": "num",
    "restrictedMobileCreation": "bool",
    "vendorQuickbooksItem": "str?",
    "paymentTermId": "int?",
    "remittanceVendorId": "int?",
    "address": "obj",
    "externalData": "obj?",
    "tags": "arr?",
    "vendorContacts": "arr?",
}


def check(
    body: Any,
    fields: dict[str, str],
    required: tuple[str, ...] = (),
    path: str = "",
    enums: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, list[str]]:
    """Validation errors by field path, as ServiceTitan's ApiErrorResponse lists them."""
    if not isinstance(body, dict):
        return {path or "(body)": ["a JSON object is expected"]}
    errors: dict[str, list[str]] = {}
    for name in required:
        if body.get(name) is None:
            errors[f"{path}{name}"] = [f"The {name} field is required."]
    for name, value in body.items():
        kind = fields.get(name)
        if kind is None:
            errors[f"{path}{name}"] = [f"'{name}' is not a field of this request."]
        elif not _KINDS[kind](value):
            errors[f"{path}{name}"] = [f"'{name}' must be {kind.rstrip('?')}, got {value!r}."]
        elif enums and name in enums and value is not None and value not in enums[name]:
            errors[f"{path}{name}"] = [f"'{value}' is not one of {', '.join(enums[name])}."]
    return errors


async def _json(request: Request) -> tuple[Any, Response | None]:
    try:
        return await request.json(), None
    except ValueError:
        return None, problem(400, "The request body is not JSON.", {"(body)": ["not JSON"]})


def _invalid(errors: dict[str, list[str]]) -> Response:
    return problem(400, "One or more validation errors occurred.", errors)


def add_write_routes(app: FastAPI, guard: Guard, store_of: StoreOf) -> None:
    """The write endpoints, each behind `guard` (auth, app key, faults, tenant, rate)."""

    @app.post("/accounting/v2/tenant/{tenant}/invoices/markasexported")
    async def mark_invoices_exported(
        request: Request,
        tenant: str,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        if not isinstance(body, list):
            return _invalid({"(body)": ["a list of invoices to mark is expected"]})
        fields = {"invoiceId": "int", "externalId": "str?", "externalMessage": "str?"}
        errors: dict[str, list[str]] = {}
        for n, item in enumerate(body):
            errors |= check(item, fields, ("invoiceId",), f"[{n}].")
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        answers = []
        for item in body:
            invoice_id = int(item["invoiceId"])
            error = _export(store, "invoices", invoice_id, "Exported")
            if error is None:
                store.note_exported(invoice_id, item.get("externalId"), item.get("externalMessage"))
            answers.append(
                {"invoiceId": invoice_id, "success": error is None, "errorMessage": error}
            )
        return JSONResponse(answers)

    @app.post("/accounting/v2/tenant/{tenant}/inventory-bills/markasexported")
    async def mark_bills_exported(
        request: Request,
        tenant: str,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        errors = check(body, {"inventoryBillIds": "ints"}, ("inventoryBillIds",))
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        answers = []
        for bill_id in body["inventoryBillIds"]:
            error = _export(store, "inventory-bills", int(bill_id), "PostedAndExported")
            answers.append(
                {"inventoryBillId": int(bill_id), "success": error is None, "errorMessage": error}
            )
        return JSONResponse(answers)

    @app.post("/accounting/v2/tenant/{tenant}/payments/status")
    async def payment_status(
        request: Request,
        tenant: str,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        errors = check(
            body,
            {"paymentIds": "ints", "status": "str"},
            ("paymentIds", "status"),
            enums={"status": PAYMENT_STATUSES},
        )
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        # The operation answers nothing per item: one unknown or refused payment fails the
        # whole request (400) and changes none.
        for payment_id in body["paymentIds"]:
            if store.get("payments", int(payment_id)) is None:
                return _invalid({"paymentIds": [f"Payment {payment_id} was not found."]})
            refusal = store.take_refusal("payments", int(payment_id))
            if refusal is not None:
                return _invalid({"paymentIds": [refusal]})
        for payment_id in body["paymentIds"]:
            store.update("payments", int(payment_id), syncStatus=body["status"])
        return Response(status_code=200)

    @app.get("/crm/v2/tenant/{tenant}/customers/{customer_id}")
    def get_customer(
        request: Request,
        tenant: str,
        customer_id: int,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        found = store_of(tenant).get("customers", customer_id)
        if found is None:
            return problem(404, f"Customer {customer_id} not found")
        return JSONResponse(found)

    @app.patch("/crm/v2/tenant/{tenant}/customers/{customer_id}")
    async def update_customer(
        request: Request,
        tenant: str,
        customer_id: int,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        errors = check(body, UPDATE_CUSTOMER, enums={"type": CUSTOMER_TYPES})
        if not errors and "address" in body:
            errors = check(
                body["address"], UPDATE_CUSTOMER_ADDRESS, tuple(UPDATE_CUSTOMER_ADDRESS), "address."
            )
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        current = store.get("customers", customer_id)
        if current is None:
            return problem(404, f"Customer {customer_id} not found")
        changes = {k: v for k, v in body.items() if k not in ("customFields", "externalData")}
        return JSONResponse(store.update("customers", customer_id, **changes))

    @app.post("/crm/v2/tenant/{tenant}/customers")
    async def create_customer(
        request: Request,
        tenant: str,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        errors = check(
            body, CREATE_CUSTOMER, ("name", "locations", "address"), enums={"type": CUSTOMER_TYPES}
        )
        if not errors:
            errors |= check(
                body["address"],
                CUSTOMER_ADDRESS,
                ("street", "city", "state", "zip", "country"),
                "address.",
            )
            for n, location in enumerate(body["locations"]):
                errors |= check(location, NEW_LOCATION, ("name", "address"), f"locations[{n}].")
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        now = st_time(dt.datetime.now(dt.UTC))
        customer_id = store.new_id()
        address = {**{k: None for k in CUSTOMER_ADDRESS}, **body["address"]}
        record = {
            "id": customer_id,
            "active": True,
            "name": body["name"],
            "type": body.get("type") or "Residential",
            "address": address,
            "customFields": [],
            "balance": 0.0,
            "taxExempt": False,
            "tagTypeIds": [],
            "doNotMail": bool(body.get("doNotMail")),
            "doNotService": bool(body.get("doNotService")),
            "nationalAccount": bool(body.get("nationalAccount")),
            "createdOn": now,
            "createdById": 11,
            "modifiedOn": now,
            "mergedToId": None,
            "paymentTermId": None,
            "creditLimit": None,
            "creditLimitBalance": None,
            "externalData": [],
        }
        stored = store.put("customers", record)
        locations = [
            {
                "taxZoneId": None,
                "id": store.new_id(),
                "customerId": customer_id,
                "active": True,
                "name": location["name"],
                "address": {**{k: None for k in CUSTOMER_ADDRESS}, **location["address"]},
                "customFields": [],
                "createdOn": now,
                "createdById": 11,
                "modifiedOn": now,
                "mergedToId": None,
                "zoneId": None,
                "taxExempt": False,
                "tagTypeIds": [],
                "externalData": [],
                "contacts": [],
            }
            for location in body["locations"]
        ]
        return JSONResponse({**stored, "locations": locations, "contacts": []})

    @app.get("/inventory/v2/tenant/{tenant}/vendors/{vendor_id}")
    def get_vendor(
        request: Request,
        tenant: str,
        vendor_id: int,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        found = store_of(tenant).get("vendors", vendor_id)
        if found is None:
            return problem(404, f"Vendor {vendor_id} not found")
        return JSONResponse(found)

    @app.patch("/inventory/v2/tenant/{tenant}/vendors/{vendor_id}")
    async def update_vendor(
        request: Request,
        tenant: str,
        vendor_id: int,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        errors = check(body, UPDATE_VENDOR, enums={"deliveryOption": DELIVERY_OPTIONS})
        if not errors and "address" in body:
            errors = check(body["address"], VENDOR_ADDRESS, tuple(VENDOR_ADDRESS), "address.")
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        current = store.get("vendors", vendor_id)
        if current is None:
            return problem(404, f"Vendor {vendor_id} not found")
        store.put("vendors", _vendor_with(current, body))
        return JSONResponse({"id": vendor_id})

    @app.post("/inventory/v2/tenant/{tenant}/vendors")
    async def create_vendor(
        request: Request,
        tenant: str,
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> Response:
        denied = guard(request, tenant, authorization, st_app_key)
        if denied is not None:
            return denied
        body, bad = await _json(request)
        if bad is not None:
            return bad
        required = (
            "name",
            "active",
            "isTruckReplenishment",
            "taxRate",
            "restrictedMobileCreation",
            "address",
        )
        errors = check(body, CREATE_VENDOR, required, enums={"deliveryOption": DELIVERY_OPTIONS})
        if not errors:
            errors = check(body["address"], VENDOR_ADDRESS, tuple(VENDOR_ADDRESS), "address.")
        if errors:
            return _invalid(errors)
        store = store_of(tenant)
        now = st_time(dt.datetime.now(dt.UTC))
        empty = {
            "id": store.new_id(),
            "name": "",
            "active": True,
            "isTruckReplenishment": False,
            "isMobileCreationRestricted": False,
            "memo": None,
            "deliveryOption": None,
            "defaultTaxRate": 0.0,
            "contactInfo": {
                "firstName": None,
                "lastName": None,
                "phone": None,
                "email": None,
                "fax": None,
            },
            "address": {},
            "createdOn": now,
            "modifiedOn": now,
            "externalData": [],
            "customFields": [],
        }
        stored = store.put("vendors", _vendor_with(empty, body))
        return JSONResponse({"id": stored["id"]})


def _export(store: SandboxStore, entity: Any, record_id: int, status: str) -> str | None:
    """Mark one record exported; the errorMessage ServiceTitan would answer, or None."""
    current = store.get(entity, record_id)
    noun = "Invoice" if entity == "invoices" else "Inventory bill"
    if current is None:
        return f"{noun} {record_id} was not found."
    refusal = store.take_refusal(entity, record_id)
    if refusal is not None:
        return refusal
    if current.get("syncStatus") in ("Exported", "PostedAndExported"):
        return None  # already exported: nothing changes, nothing fails
    if entity == "inventory-bills" and current.get("syncStatus") != "Posted":
        status = "Exported"
    store.update(entity, record_id, syncStatus=status)
    return None


def _vendor_with(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A vendor record with an update/create request's fields applied (VendorResponse names)."""
    record = dict(current)
    contact = dict(record.get("contactInfo") or {})
    for field in ("firstName", "lastName", "phone", "email", "fax"):
        if field in body:
            contact[field] = body[field]
    record["contactInfo"] = contact
    renamed = {
        "taxRate": "defaultTaxRate",
        "restrictedMobileCreation": "isMobileCreationRestricted",
    }
    for field in (
        "name",
        "active",
        "memo",
        "isTruckReplenishment",
        "deliveryOption",
        "taxRate",
        "restrictedMobileCreation",
    ):
        if field in body:
            record[renamed.get(field, field)] = body[field]
    if "address" in body:
        record["address"] = dict(body["address"])
    return record
