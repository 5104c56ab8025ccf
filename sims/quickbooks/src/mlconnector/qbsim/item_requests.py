"""Item queries, adds and mods, and the Item*Ret elements (order follows qbxml130.xsd)."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.items import Item, ItemType
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Handler, Outcome, query_outcome
from mlconnector.qbsim.queries import ListFilter
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.request_fields import (
    boolean_of,
    decimal_of,
    mod_keys,
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
from mlconnector.qbsim.statuses import object_not_found


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
    add_ref(ret, "ClassRef", item.class_ref)
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


def item_query_handler(item_type: ItemType | None) -> Handler:
    """ItemQuery (every type) or ItemServiceQuery, ItemNonInventoryQuery..."""

    def handle(company: Company, request: etree._Element) -> Outcome:
        items, missing = company.query_items(list_filter(company, request), item_type)
        return query_outcome([item_ret(i) for i in items], missing)

    return handle


def item_add_handler(item_type: ItemType) -> Handler:
    """ItemServiceAdd, ItemNonInventoryAdd, ItemOtherChargeAdd: the same shape of request."""
    where = f"Item{item_type}"

    def handle(company: Company, request: etree._Element) -> Outcome:
        add = request.find(f"{where}Add")
        assert add is not None
        refuse_unmodelled_refs(add, ("UnitOfMeasureSetRef",), where)
        description, price, price_percent, account = _sales_fields(add, where, "")
        is_active = boolean_of(add, "IsActive")
        item = company.add_item(
            item_type,
            text_of(add, "Name") or "",
            description=description,
            price=price,
            price_percent=price_percent,
            account=account,
            sales_tax_code=ref_spec_of(add, "SalesTaxCodeRef"),
            parent=ref_spec_of(add, "ParentRef"),
            is_active=True if is_active is None else is_active,
            class_ref=ref_spec_of(add, "ClassRef"),
        )
        return Outcome([item_ret(item)])

    return handle


def item_mod_handler(item_type: ItemType) -> Handler:
    """ItemServiceMod and kin. A Mod of an item of another type is refused (3120: that
    ListID is no item of this type)."""
    where = f"Item{item_type}"

    def handle(company: Company, request: etree._Element) -> Outcome:
        mod = request.find(f"{where}Mod")
        assert mod is not None
        refuse_unmodelled_refs(mod, ("UnitOfMeasureSetRef",), where)
        list_id, edit_sequence = mod_keys(mod)
        found, _ = company.query_items(ListFilter(list_ids=[list_id]), item_type)
        if not found:
            raise object_not_found(list_id)
        description, price, price_percent, account = _sales_fields(mod, where, "Mod")
        item = company.mod_item(
            list_id,
            edit_sequence,
            name=text_of(mod, "Name"),
            is_active=boolean_of(mod, "IsActive"),
            parent=ref_spec_of(mod, "ParentRef"),
            sales_tax_code=ref_spec_of(mod, "SalesTaxCodeRef"),
            description=description,
            price=price,
            price_percent=price_percent,
            account=account,
            class_ref=ref_spec_of(mod, "ClassRef"),
        )
        return Outcome([item_ret(item)])

    return handle


def _sales_fields(
    element: etree._Element, where: str, suffix: str
) -> tuple[str | None, Decimal | None, Decimal | None, RefSpec | None]:
    """Desc, Price, PricePercent and the income account of SalesOrPurchase[Mod] or
    SalesAndPurchase[Mod] (the simulator keeps one account per item)."""
    sales = element.find(f"SalesOrPurchase{suffix}")
    if sales is not None:
        return (
            text_of(sales, "Desc"),
            decimal_of(sales, "Price"),
            decimal_of(sales, "PricePercent"),
            ref_spec_of(sales, "AccountRef"),
        )
    both = element.find(f"SalesAndPurchase{suffix}")
    if both is not None:
        refuse_unmodelled_refs(both, ("PrefVendorRef",), where)
        return (
            text_of(both, "SalesDesc"),
            decimal_of(both, "SalesPrice"),
            None,
            ref_spec_of(both, "IncomeAccountRef"),
        )
    return None, None, None, None


handle_item_query = item_query_handler(None)
handle_item_service_add = item_add_handler("Service")
