"""ItemQuery and ItemServiceAdd, and the Item*Ret elements (order follows qbxml130.xsd)."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.items import Item
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.request_fields import (
    boolean_of,
    decimal_of,
    ref_spec_of,
    refuse_unmodelled_refs,
    text_of,
)
from mlconnector.qbsim.ret_fields import (
    add_core,
    add_ref,
    bool_text,
    percent_text,
    price_text,
    sub,
)


def item_ret(item: Item) -> etree._Element:
    ret = etree.Element(f"Item{item.item_type}Ret")
    core = item.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", item.name)
    if item.item_type == "SalesTax":
        # ItemSalesTaxRet has no FullName/ParentRef/Sublevel (sales tax items have no parent).
        sub(ret, "IsActive", bool_text(item.is_active))
        sub(ret, "ItemDesc", item.description)
        if item.tax_rate is not None:
            sub(ret, "TaxRate", percent_text(item.tax_rate))
        add_ref(ret, "TaxVendorRef", item.tax_vendor)
        return ret
    sub(ret, "FullName", item.full_name)
    sub(ret, "IsActive", bool_text(item.is_active))
    add_ref(ret, "ParentRef", item.parent)
    sub(ret, "Sublevel", str(item.sublevel))
    add_ref(ret, "SalesTaxCodeRef", item.sales_tax_code)
    sales = etree.SubElement(ret, "SalesOrPurchase")
    sub(sales, "Desc", item.description)
    if item.price is not None:
        sub(sales, "Price", price_text(item.price))
    elif item.price_percent is not None:
        sub(sales, "PricePercent", percent_text(item.price_percent))
    add_ref(sales, "AccountRef", item.account)
    return ret


def handle_item_query(company: Company, request: etree._Element) -> Outcome:
    items, missing = company.query_items(list_filter(company, request))
    return query_outcome([item_ret(i) for i in items], missing)


def handle_item_service_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("ItemServiceAdd")
    assert add is not None
    refuse_unmodelled_refs(add, ("ClassRef", "UnitOfMeasureSetRef"), "ItemService")
    sales = add.find("SalesOrPurchase")
    description: str | None = None
    price: Decimal | None = None
    price_percent: Decimal | None = None
    account: RefSpec | None = None
    if sales is not None:
        description = text_of(sales, "Desc")
        price = decimal_of(sales, "Price")
        price_percent = decimal_of(sales, "PricePercent")
        account = ref_spec_of(sales, "AccountRef")
    both = add.find("SalesAndPurchase")
    if both is not None:
        refuse_unmodelled_refs(both, ("PrefVendorRef",), "ItemService")
        description = text_of(both, "SalesDesc")
        price = decimal_of(both, "SalesPrice")
        account = ref_spec_of(both, "IncomeAccountRef")
    is_active = boolean_of(add, "IsActive")
    item = company.add_item(
        "Service",
        text_of(add, "Name") or "",
        description=description,
        price=price,
        price_percent=price_percent,
        account=account,
        sales_tax_code=ref_spec_of(add, "SalesTaxCodeRef"),
        parent=ref_spec_of(add, "ParentRef"),
        is_active=True if is_active is None else is_active,
    )
    return Outcome([item_ret(item)])
