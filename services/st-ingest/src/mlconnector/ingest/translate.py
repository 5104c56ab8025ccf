"""ServiceTitan export JSON -> canonical `Party` / `Invoice`.

Real ServiceTitan data deviates from its documents in places, so every field we rely on is
checked here and a bad record raises `TranslationError` naming the record and the field; the
poller reports it and carries on with the rest of the feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from mlconnector.common.models import Address, GLAccount, Invoice, InvoiceLine, Party
from mlconnector.common.money import to_decimal


class TranslationError(ValueError):
    def __init__(self, entity: str, record_id: object, field: str, problem: str) -> None:
        super().__init__(f"ServiceTitan {entity} {record_id}: field '{field}' {problem}")
        self.entity = entity
        self.record_id = record_id
        self.field = field
        self.problem = problem


class _Reader:
    """Typed access to one raw record; every failure names the record and the field path."""

    def __init__(self, entity: str, raw: Any) -> None:
        self.entity = entity
        if not isinstance(raw, dict):
            raise TranslationError(entity, "?", "(record)", f"is not a JSON object: {raw!r:.80}")
        self.raw: dict[str, Any] = raw
        self.record_id = raw.get("id", "?")

    def fail(self, field: str, problem: str) -> TranslationError:
        return TranslationError(self.entity, self.record_id, field, problem)

    def value(self, node: dict[str, Any], key: str, path: str, required: bool = True) -> Any:
        value = node.get(key)
        if value is None and required:
            raise self.fail(path, "is missing")
        return value

    def integer(self, node: dict[str, Any], key: str, path: str) -> int:
        value = self.value(node, key, path)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer id, got {value!r}")
        return value

    def text(self, node: dict[str, Any], key: str, path: str, required: bool = True) -> str:
        value = self.value(node, key, path, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(path, f"must be text, got {value!r}")
        if required and not value.strip():
            raise self.fail(path, "is empty")
        return value.strip()

    def boolean(self, node: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {value!r}")
        return value

    def money(self, node: dict[str, Any], key: str, path: str) -> Decimal:
        value = self.value(node, key, path)
        try:
            amount = to_decimal(value)
        except ValueError as exc:
            raise self.fail(path, f"is not an amount: {value!r}") from exc
        if not amount.is_finite():
            raise self.fail(path, f"is not an amount: {value!r}")
        return amount

    def timestamp(
        self, node: dict[str, Any], key: str, path: str, required: bool = True
    ) -> dt.datetime | None:
        value = self.value(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"must be an ISO 8601 date-time, got {value!r}")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise self.fail(path, f"is not an ISO 8601 date-time: {value!r}") from exc
        # ServiceTitan's timestamps are UTC; a value without an offset is UTC too.
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed

    def obj(
        self, node: dict[str, Any], key: str, path: str, required: bool = False
    ) -> dict[str, Any] | None:
        value = self.value(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, got {value!r:.80}")
        return value

    def address(self, node: dict[str, Any], key: str, path: str) -> Address | None:
        found = self.obj(node, key, path)
        if found is None:
            return None
        fields = {}
        for name in ("street", "unit", "city", "state", "zip", "country"):
            fields[name] = self.text(found, name, f"{path}.{name}", required=False)
        return Address(**fields)


def version_of(raw: dict[str, Any]) -> str:
    """modifiedOn as a normalized UTC ISO string; a content hash if the record has none."""
    modified = raw.get("modifiedOn")
    if isinstance(modified, str):
        try:
            parsed = dt.datetime.fromisoformat(modified)
        except ValueError:
            pass
        else:
            parsed = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
            return parsed.astimezone(dt.UTC).isoformat()
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    return "sha256-" + hashlib.sha256(canonical).hexdigest()[:32]


def translate_customer(raw: Any) -> Party:
    r = _Reader("customer", raw)
    try:
        return Party(
            kind="customer",
            st_id=r.integer(r.raw, "id", "id"),
            name=r.text(r.raw, "name", "name"),
            active=r.boolean(r.raw, "active", "active", default=True),
            address=r.address(r.raw, "address", "address"),
            modified_on=r.timestamp(r.raw, "modifiedOn", "modifiedOn", required=False),
        )
    except ValidationError as exc:
        raise r.fail(_first_loc(exc), _first_msg(exc)) from exc


def _gl_account(r: _Reader, item: dict[str, Any], path: str) -> GLAccount | None:
    account = r.obj(item, "generalLedgerAccount", f"{path}.generalLedgerAccount")
    if account is None:
        return None
    gl_path = f"{path}.generalLedgerAccount"
    number = account.get("number")
    return GLAccount(
        id=r.integer(account, "id", f"{gl_path}.id"),
        name=r.text(account, "name", f"{gl_path}.name"),
        number=str(number) if number is not None else None,
        type=r.text(account, "type", f"{gl_path}.type", required=False) or None,
    )


def _line(r: _Reader, item: Any, index: int) -> InvoiceLine:
    path = f"items[{index}]"
    if not isinstance(item, dict):
        raise r.fail(path, f"must be an object, got {item!r:.80}")
    quantity = r.money(item, "quantity", f"{path}.quantity")
    price = r.money(item, "price", f"{path}.price")
    total = r.money(item, "total", f"{path}.total")
    business_unit = r.obj(item, "businessUnit", f"{path}.businessUnit")
    description = r.text(item, "description", f"{path}.description", required=False)
    return InvoiceLine(
        st_id=r.integer(item, "id", f"{path}.id"),
        sku_name=r.text(item, "skuName", f"{path}.skuName"),
        description=description
        or r.text(item, "displayName", f"{path}.displayName", required=False),
        quantity=quantity,
        price=price,
        total=total,
        taxable=r.boolean(item, "taxable", f"{path}.taxable", default=False),
        gl_account=_gl_account(r, item, path),
        business_unit=(business_unit or {}).get("name") or None,
    )


def translate_invoice(raw: Any) -> Invoice:
    r = _Reader("invoice", raw)
    data = r.raw
    customer = r.obj(data, "customer", "customer", required=True)
    assert customer is not None  # required=True raised otherwise
    invoice_date = r.timestamp(data, "invoiceDate", "invoiceDate")
    assert invoice_date is not None
    due = r.timestamp(data, "dueDate", "dueDate", required=False)
    items = data.get("items") or []
    if not isinstance(items, list):
        raise r.fail("items", f"must be a list, got {items!r:.80}")
    ordered = sorted(enumerate(items), key=_item_order)
    lines = tuple(_line(r, item, index) for index, item in ordered)
    subtotal = r.money(data, "subTotal", "subTotal")
    sales_tax = r.money(data, "salesTax", "salesTax")
    total = r.money(data, "total", "total")
    # An invoice that does not add up would post wrong books: refuse it, loudly.
    if subtotal + sales_tax != total:
        raise r.fail("total", f"{total} is not subTotal {subtotal} + salesTax {sales_tax}")
    line_sum = sum((line.total for line in lines), Decimal(0))
    if lines and line_sum != subtotal:
        raise r.fail("subTotal", f"{subtotal} differs from the sum of item totals {line_sum}")
    number = r.text(data, "referenceNumber", "referenceNumber", required=False)
    business_unit = r.obj(data, "businessUnit", "businessUnit")
    location = r.obj(data, "location", "location")
    try:
        return Invoice(
            st_id=r.integer(data, "id", "id"),
            number=number or str(data.get("id")),
            customer_st_id=r.integer(customer, "id", "customer.id"),
            customer_name=r.text(customer, "name", "customer.name"),
            location_st_id=r.integer(location, "id", "location.id") if location else None,
            invoice_date=invoice_date.date(),
            due_date=due.date() if due else None,
            subtotal=subtotal,
            sales_tax=sales_tax,
            total=total,
            summary=r.text(data, "summary", "summary", required=False),
            business_unit=(business_unit or {}).get("name") or None,
            bill_to=r.address(data, "customerAddress", "customerAddress"),
            ship_to=r.address(data, "locationAddress", "locationAddress"),
            lines=lines,
            sync_status=r.text(data, "syncStatus", "syncStatus", required=False) or None,
            active=r.boolean(data, "active", "active", default=True),
            modified_on=r.timestamp(data, "modifiedOn", "modifiedOn", required=False),
        )
    except ValidationError as exc:
        raise r.fail(_first_loc(exc), _first_msg(exc)) from exc


def _item_order(pair: tuple[int, Any]) -> int:
    index, item = pair
    order = item.get("order") if isinstance(item, dict) else None
    return order if isinstance(order, int) and not isinstance(order, bool) else index


def _first_loc(exc: ValidationError) -> str:
    errors = exc.errors()
    return ".".join(str(part) for part in errors[0]["loc"]) if errors else "(record)"


def _first_msg(exc: ValidationError) -> str:
    errors = exc.errors()
    return str(errors[0]["msg"]) if errors else str(exc)
