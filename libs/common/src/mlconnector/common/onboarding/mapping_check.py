"""The connection's mapping settings against the company's real lists: every account, item,
sales tax item, sales tax code, class, terms and payment method the mapping names must be
there, or the records that use it fail in QuickBooks (3140, "invalid reference").

QuickBooks resolves a reference by FullName without regard to case, as the simulator does
(sims/quickbooks store.resolve), so the check does too.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlconnector.common.mapping import MappingSettings
from mlconnector.common.onboarding.company import CompanySnapshot, ListName

_TAX_KINDS = frozenset({"SalesTax", "SalesTaxGroup"})


def _names(snapshot: CompanySnapshot, name: ListName, kinds: Iterable[str] = ()) -> set[str]:
    wanted = set(kinds)
    return {
        entry.shown_name.casefold()
        for entry in snapshot.entries(name)
        if not wanted or entry.kind in wanted
    }


def check_mapping(mapping: MappingSettings, snapshot: CompanySnapshot) -> list[str]:
    """One sentence per name the mapping uses that the company does not have, naming the
    setting and the missing entry; [] when every one is there."""
    accounts = _names(snapshot, "account")
    items = {e.shown_name.casefold() for e in snapshot.entries("item") if e.kind not in _TAX_KINDS}
    tax_items = _names(snapshot, "item", _TAX_KINDS)
    codes = _names(snapshot, "sales_tax_code")
    classes = _names(snapshot, "class")
    terms = _names(snapshot, "terms")
    methods = _names(snapshot, "payment_method")
    wanted: list[tuple[str, str, set[str], str]] = [
        (field, value, accounts, "an account")
        for field, value in (
            ("ar_account", mapping.ar_account),
            ("ap_account", mapping.ap_account),
            ("deposit_account", mapping.deposit_account),
            ("default_expense_account", mapping.default_expense_account),
            ("bill_tax_account", mapping.bill_tax_account),
            ("bill_shipping_account", mapping.bill_shipping_account),
            ("bill_other_account", mapping.bill_other_account),
            ("rounding_account", mapping.rounding_account),
        )
    ]
    wanted += [
        (f"gl_account_map[{key!r}]", value, accounts, "an account")
        for key, value in mapping.gl_account_map.items()
    ]
    wanted.append(("default_item", mapping.default_item, items, "an item"))
    if mapping.item_strategy == "sku":
        wanted += [
            (f"item_map[{key!r}]", value, items, "an item")
            for key, value in mapping.item_map.items()
        ]
    wanted.append(("sales_tax_item", mapping.sales_tax_item, tax_items, "a sales tax item"))
    wanted += [
        (f"tax_item_map[{key!r}]", value, tax_items, "a sales tax item")
        for key, value in mapping.tax_item_map.items()
    ]
    wanted += [
        ("taxable_code", mapping.taxable_code, codes, "a sales tax code"),
        ("non_taxable_code", mapping.non_taxable_code, codes, "a sales tax code"),
    ]
    if mapping.class_from_business_unit:
        wanted += [
            (f"class_map[{key!r}]", value, classes, "a class")
            for key, value in mapping.class_map.items()
        ]
    wanted += [
        (f"terms_map[{key!r}]", value, terms, "terms") for key, value in mapping.terms_map.items()
    ]
    if mapping.default_terms:
        wanted.append(("default_terms", mapping.default_terms, terms, "terms"))
    for key, payment in mapping.payment_types.items():
        if payment.method:
            wanted.append(
                (f"payment_types[{key!r}].method", payment.method, methods, "a payment method")
            )
        if payment.deposit_account:
            wanted.append(
                (
                    f"payment_types[{key!r}].deposit_account",
                    payment.deposit_account,
                    accounts,
                    "an account",
                )
            )
    return [
        f"{field}: {value!r} is not {what} in QuickBooks; create it there or change the mapping"
        for field, value, names, what in wanted
        if value.casefold() not in names
    ]
