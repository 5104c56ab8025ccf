"""Properties over any valid ServiceTitan record: amounts to the cent, text through escaping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from mapper_checks import assert_valid, with_sample_ids
from mapper_factories import connection, contractor_invoice, event_for, inventory_bill, payment

from mlconnector.common.connections import Connection
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import BillLine, GLAccount, InvoiceLine, PaymentApplication
from mlconnector.common.money import cents
from mlconnector.common.qbxml import to_qb_text
from mlconnector.mapper.commands import map_event
from mlconnector.mapper.errors import MappingError

_settings = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _conn(**mapping: object) -> Connection:
    return connection().model_copy(update={"mapping": MappingSettings.model_validate(mapping)})


def _amounts(fragment: str, path: str) -> list[Decimal]:
    return [Decimal(node.text or "") for node in etree.fromstring(fragment).iterfind(path)]


def _money(low: str, high: str, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(low),
        max_value=Decimal(high),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def invoice_lines(draw: st.DrawFn) -> InvoiceLine:
    quantity = draw(_money("0", "500", places=draw(st.integers(0, 3))))
    price = draw(_money("-2000", "5000", places=draw(st.integers(2, 4))))
    # ServiceTitan's total is usually quantity x price to the cent, but it may differ (a
    # manual override): both must post ServiceTitan's amount.
    total = draw(st.one_of(st.just(cents(quantity * price)), _money("-5000", "5000")))
    return InvoiceLine(
        st_id=draw(st.integers(1, 10**9)),
        sku_name=draw(st.sampled_from(["Labor", "PVC-075", "Discount", "X" * 40])),
        quantity=quantity,
        price=price,
        total=total,
        taxable=draw(st.booleans()),
        gl_account=draw(
            st.sampled_from([None, GLAccount(name="Service Income"), GLAccount(name="Sales")])
        ),
    )


@_settings
@given(
    lines=st.lists(invoice_lines(), min_size=1, max_size=12),
    tax=_money("-900", "900"),
    mode=st.sampled_from(["quickbooks", "line"]),
    strategy=st.sampled_from(["sku", "gl_account"]),
    adjusts=st.booleans(),
)
def test_any_valid_invoice_posts_servicetitans_totals_to_the_cent(
    lines: list[InvoiceLine], tax: Decimal, mode: str, strategy: str, adjusts: bool
) -> None:
    """An invoice's lines are ServiceTitan's; a negative one is a credit memo whose amounts
    (positive in QuickBooks) sum to ServiceTitan's totals turned, to the cent."""
    subtotal = sum((line.total for line in lines), Decimal("0"))
    record = contractor_invoice(
        lines=tuple(lines),
        subtotal=subtotal,
        sales_tax=tax,
        total=subtotal + tax,
        adjustment_to_id=4999 if adjusts else None,
    )
    commands = map_event(event_for(record), _conn(tax_mode=mode, item_strategy=strategy))
    credit = record.total < 0
    sign = Decimal(-1) if credit else Decimal(1)
    obj = "CreditMemo" if credit else "Invoice"
    event(obj)
    applied = credit and adjusts
    command = commands[-2] if applied else commands[-1]
    assert command.request_type == f"{obj}AddRq"
    amounts = _amounts(command.qbxml, f"{obj}Add/{obj}LineAdd/Amount")
    assert all(a == cents(a) for a in amounts)
    if mode == "line":
        assert sum(amounts, Decimal("0")) == record.total * sign
    else:
        assert sum(amounts, Decimal("0")) == record.subtotal * sign
        assert Decimal(command.fingerprint["sales tax"]) == tax * sign
    assert Decimal(command.fingerprint["total"]) == record.total * sign
    assert Decimal(command.expected["total"]) == record.total * sign
    assert Decimal(command.expected["subtotal"]) + Decimal(command.expected["sales_tax"]) == (
        record.total * sign
    )
    assert len(command.line_keys) == len(amounts)
    mod_amounts = _amounts(command.mod_qbxml or "", f"{obj}Mod/{obj}LineMod/Amount")
    assert mod_amounts == amounts
    if applied:
        application = commands[-1]
        assert application.requires == (command.command_id,)
        applied_amount = _amounts(
            application.qbxml, "ReceivePaymentAdd/AppliedToTxnAdd/SetCredit/AppliedAmount"
        )
        assert applied_amount == [-record.total]
    else:
        assert commands[-1] is command
    assert_valid(*(c.qbxml for c in commands), with_sample_ids(command.mod_qbxml or ""))


@st.composite
def bill_lines(draw: st.DrawFn) -> BillLine:
    return BillLine(
        st_id=draw(st.integers(1, 10**9)),
        sku_name=draw(st.sampled_from(["WH-50G", "PVC-075", "FLTR-16251"])),
        quantity=draw(_money("0", "1000", places=draw(st.integers(0, 3)))),
        cost=draw(_money("0", "3000", places=draw(st.integers(0, 5)))),
        gl_account=draw(st.sampled_from([None, GLAccount(name="Inventory Asset", number="1300")])),
    )


@_settings
@given(
    lines=st.lists(bill_lines(), min_size=1, max_size=15),
    tax=_money("0", "500"),
    shipping=_money("0", "200"),
    other=_money("0", "100"),
    rounded_once=st.booleans(),
)
def test_any_valid_bill_posts_servicetitans_amount_to_the_cent(
    lines: list[BillLine], tax: Decimal, shipping: Decimal, other: Decimal, rounded_once: bool
) -> None:
    # ServiceTitan's amount: per-line cents, or the exact sum rounded once; either way the
    # expense lines (with a rounding line when needed) add up to it exactly.
    if rounded_once:
        items = cents(sum((line.quantity * line.cost for line in lines), Decimal("0")))
    else:
        items = sum((cents(line.quantity * line.cost) for line in lines), Decimal("0"))
    record = inventory_bill(
        lines=tuple(lines),
        tax=tax,
        shipping=shipping,
        other=other,
        total=items + tax + shipping + other,
    )
    if record.total == 0:
        return  # nothing to post; refused with its own test
    [command] = map_event(event_for(record), connection())
    amounts = _amounts(command.qbxml, "BillAdd/ExpenseLineAdd/Amount")
    assert all(a == cents(a) for a in amounts)
    assert sum(amounts, Decimal("0")) == record.total
    assert len(amounts) >= len(lines)
    assert_valid(command.qbxml)


@_settings
@given(
    applied=st.lists(st.tuples(st.integers(1, 50), _money("0.01", "5000")), min_size=0, max_size=6),
    unapplied=_money("0", "500"),
)
def test_any_valid_payment_applies_exactly_its_total(
    applied: list[tuple[int, Decimal]], unapplied: Decimal
) -> None:
    total = sum((amount for _, amount in applied), Decimal("0")) + unapplied
    if total == 0:
        return
    record = payment(
        total=total,
        unapplied=unapplied,
        applications=tuple(PaymentApplication(invoice_st_id=i, amount=a) for i, a in applied),
    )
    [command] = map_event(event_for(record), connection())
    amounts = _amounts(command.qbxml, "ReceivePaymentAdd/AppliedToTxnAdd/PaymentAmount")
    assert sum(amounts, Decimal("0")) + unapplied == total
    assert Decimal(command.fingerprint["total"]) == total
    assert_valid(command.qbxml)


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=120)


@settings(max_examples=150, deadline=None)
@given(name=_text, memo=_text, desc=_text, street=_text)
def test_any_text_survives_escaping_in_every_entity(
    name: str, memo: str, desc: str, street: str
) -> None:
    from mapper_factories import vendor

    from mlconnector.common.models import Address

    [vendor_command] = map_event(
        event_for(vendor(name=name, address=Address(street=street, city="Springfield"))),
        connection(),
    )
    line = inventory_bill().lines[0].model_copy(update={"description": desc})
    bill = inventory_bill(
        summary=memo,
        reference="R1",
        lines=(
            line,
            *inventory_bill().lines[1:],
        ),
    )
    [bill_command] = map_event(event_for(bill), connection())
    [pay_command] = map_event(event_for(payment(memo=memo, reference="")), connection())
    assert_valid(vendor_command.qbxml, bill_command.qbxml, pay_command.qbxml)

    vendor_root = etree.fromstring(vendor_command.qbxml)
    qb_name = vendor_root.findtext("VendorAdd/Name") or ""
    assert 0 < len(qb_name) <= 41
    assert ":" not in qb_name
    qb_name.encode("iso-8859-1")
    addr2 = vendor_root.findtext("VendorAdd/VendorAddress/Addr2")
    flat_street = " ".join(to_qb_text(street).split())[:41].rstrip()
    assert (addr2 or "") == flat_street or vendor_root.findtext(
        "VendorAdd/VendorAddress/Addr1"
    ) == flat_street

    # Escaping is lossless: what each element holds is exactly the transliterated input.
    bill_root = etree.fromstring(bill_command.qbxml)
    expected_memo = to_qb_text(memo).strip()[:4095]
    assert (bill_root.findtext("BillAdd/Memo") or "") == expected_memo
    line_memo = bill_root.findtext("BillAdd/ExpenseLineAdd/Memo") or ""
    what = "WH-50G" if not desc else f"WH-50G {desc}"
    assert line_memo == to_qb_text(f"{what}: 2 x 812.40").strip()
    pay_memo = etree.fromstring(pay_command.qbxml).findtext("ReceivePaymentAdd/Memo") or ""
    assert pay_memo == expected_memo
    for text in (qb_name, line_memo, pay_memo):
        text.encode("iso-8859-1")


def test_dates_are_plain_iso() -> None:
    record = payment(payment_date=dt.date(2024, 1, 9))
    [command] = map_event(event_for(record), connection())
    assert "<TxnDate>2024-01-09</TxnDate>" in command.qbxml


@settings(max_examples=100, deadline=None)
@given(reference=_text, number=_text)
def test_any_reference_fits_its_refnumber_and_stays_whole_in_the_memo(
    reference: str, number: str
) -> None:
    [pay] = map_event(event_for(payment(reference=reference, memo="")), connection())
    root = etree.fromstring(pay.qbxml)
    ref = root.findtext("ReceivePaymentAdd/RefNumber") or ""
    assert len(ref) <= 20
    ref.encode("iso-8859-1")
    flat = " ".join(to_qb_text(reference).split())
    if len(flat) > 20:
        assert ref == flat[-20:]
        assert f"ServiceTitan reference {to_qb_text(reference).strip()}" in (
            root.findtext("ReceivePaymentAdd/Memo") or ""
        )
    else:
        assert ref == flat
    if number.strip():
        [inv] = map_event(event_for(contractor_invoice(number=number)), connection())
        ref_number = etree.fromstring(inv.qbxml).findtext("InvoiceAdd/RefNumber") or ""
        assert len(ref_number) <= 11
        assert_valid(pay.qbxml, inv.qbxml)


_level = st.text(
    alphabet=st.characters(
        codec="latin-1", exclude_categories=("Cc", "Cs"), exclude_characters=":"
    ),
    min_size=0,
    max_size=40,
)


@_settings
@given(levels=st.lists(_level, min_size=1, max_size=4))
def test_an_account_name_is_kept_whole_or_refused_naming_its_level(levels: list[str]) -> None:
    """ServiceTitan's "Parent:Child" reaches QuickBooks as it is, or not at all."""
    name = ":".join(levels)
    assume(name.strip())  # no name at all: the default expense account
    record = inventory_bill(
        lines=(
            BillLine(
                st_id=1,
                sku_name="X",
                quantity=Decimal(1),
                cost=Decimal("10.00"),
                gl_account=GLAccount(name=name, number="5031"),
            ),
        ),
        total=Decimal("10.00"),
        tax=Decimal("0"),
        shipping=Decimal("0"),
        other=Decimal("0"),
    )
    cleaned = [" ".join(level.split()) for level in levels]
    bad = [level for level in cleaned if not 0 < len(level) <= 31]
    if bad or len(":".join(cleaned)) > 159:
        with pytest.raises(MappingError) as caught:
            map_event(event_for(record), connection())
        if "" in bad:
            assert "has an empty level" in caught.value.message
        elif bad:
            assert f"its level {bad[0]!r} is {len(bad[0])} characters" in caught.value.message
        assert "gl_account_map" in caught.value.hint
        return
    [command] = map_event(event_for(record), connection())
    account = etree.fromstring(command.qbxml).findtext("BillAdd/ExpenseLineAdd/AccountRef/FullName")
    assert account == ":".join(cleaned)
    assert_valid(command.qbxml)
