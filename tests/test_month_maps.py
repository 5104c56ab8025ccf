"""The chaos month through st-ingest's translation and the mapper, with the mapping it is
meant for: every version maps, and the amounts the commands expect are the month's books."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import EntityName
from mlconnector.common.qbxml import Request, build_message, element_from_string
from mlconnector.common.qbxml.schema import validate
from mlconnector.ingest.translate import TRANSLATORS, version_of
from mlconnector.mapper.commands import map_event
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.seed import seed_contractor
from mlconnector.stsandbox.month import CHAOS_MAPPING, ZONES, generate_month

ENTITY: dict[str, EntityName] = {
    "customers": "customer",
    "vendors": "vendor",
    "invoices": "invoice",
    "payments": "payment",
    "inventory-bills": "bill",
}


def connection() -> Connection:
    return Connection(
        name="chaos",
        tenant="1234567",
        qbwc_username="chaos",
        password_hash="not-a-real-hash",
        mapping=MappingSettings.model_validate(CHAOS_MAPPING),
    )


def event(entity: str, raw: dict[str, Any]) -> StEvent:
    name = ENTITY[entity]
    record = TRANSLATORS[name](raw)
    return StEvent(
        tenant="1234567", entity=name, st_id=record.st_id, version=version_of(raw), record=record
    )


def test_every_version_of_the_month_maps_to_the_books() -> None:
    month = generate_month(7)
    books = month.books()
    target = connection()
    latest: dict[tuple[str, int], Any] = {}
    versions = [(e, r) for e, records in month.records().items() for r in records]
    versions += [(c.entity, c.record) for c in (*month.waiting_edits, *month.later)]
    fragments: list[str] = []
    for entity, raw in versions:
        commands = map_event(event(entity, raw), target)
        latest[(entity, int(raw["id"]))] = commands
        fragments += [c.qbxml for c in commands if c.qbxml]
    invoice_commands = {key[1]: cmds for key, cmds in latest.items() if key[0] == "invoices"}
    for invoice_id, expected in books.invoices.items():
        *_, record = [
            c for c in invoice_commands[invoice_id] if c.request_type != "ReceivePaymentAddRq"
        ]
        if expected.voided:
            assert record.action == "void"
            kind = etree.fromstring(record.qbxml).findtext("TxnVoidType")
            assert kind == ("CreditMemo" if expected.kind == "credit memo" else "Invoice")
            continue
        assert record.request_type == (
            "CreditMemoAddRq" if expected.kind == "credit memo" else "InvoiceAddRq"
        )
        assert record.expected == {
            "subtotal": f"{expected.subtotal:.2f}",
            "sales_tax": f"{expected.sales_tax:.2f}",
            "total": f"{expected.total:.2f}",
        }
        tax_item = etree.fromstring(record.qbxml).findtext(".//ItemSalesTaxRef/FullName")
        assert tax_item == expected.tax_item
    applications = [
        cmds[-1]
        for cmds in invoice_commands.values()
        if cmds[-1].request_type == "ReceivePaymentAddRq"
    ]
    assert len(applications) == 8  # one per adjustment invoice
    payment_commands = {key[1]: cmds for key, cmds in latest.items() if key[0] == "payments"}
    for payment_id, total in books.payments.items():
        assert payment_commands[payment_id][-1].expected == {"total": f"{total:.2f}"}
    for payment_id in books.deleted_payments:
        [delete] = payment_commands[payment_id]
        assert (delete.action, delete.request_type) == ("void", "TxnDelRq")
    bill_commands = {key[1]: cmds for key, cmds in latest.items() if key[0] == "inventory-bills"}
    assert {i: Decimal(c[-1].expected["total"]) for i, c in bill_commands.items()} == books.bills
    # Everything the month makes is valid qbXML (the placeholders are valid IDTYPE text).
    for start in range(0, len(fragments), 200):
        chunk = fragments[start : start + 200]
        validate(
            build_message([Request(str(n), element_from_string(f)) for n, f in enumerate(chunk)])
        )


def test_the_month_names_only_what_the_demo_company_file_has() -> None:
    """Items and accounts the month's commands name exist in the QuickBooks simulator's
    contractor company (its sales tax items per zone are the simulator's to add)."""
    month = generate_month(7)
    target = connection()
    versions = [(e, r) for e, records in month.records().items() for r in records]
    names: dict[str, set[str]] = {"items": set(), "accounts": set()}
    for entity, raw in versions:
        for command in map_event(event(entity, raw), target):
            if not command.qbxml:
                continue
            root = etree.fromstring(command.qbxml)
            names["items"] |= {e.text or "" for e in root.iterfind(".//ItemRef/FullName")}
            for tag in ("AccountRef", "ARAccountRef", "APAccountRef", "DepositToAccountRef"):
                names["accounts"] |= {e.text or "" for e in root.iterfind(f".//{tag}/FullName")}
    assert "ST Service" not in names["items"]  # no line falls back to the default item
    tax_items = {zone.quickbooks_item for zone in ZONES}
    with Company(":memory:") as company:
        seed_contractor(company)
        for table, wanted in names.items():
            missing = {
                name
                for name in wanted - tax_items
                if company.resolve(table, RefSpec(full_name=name)) is None
            }
            assert missing == set(), table
