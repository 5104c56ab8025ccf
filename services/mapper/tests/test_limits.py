"""The mapper's field limits are the schema's: read them from the qbXML 13.0 XSD itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from mlconnector.common.mapping import NAME_LEVEL_MAX, TAX_CODE_MAX
from mlconnector.common.qbxml.schema import schema_dir
from mlconnector.mapper import naming

XS = "{http://www.w3.org/2001/XMLSchema}"
FILES = ("qbxmlops130.xsd", "qbxml130.xsd", "qbxmltypes130.xsd")


@pytest.fixture(scope="module")
def xsd() -> list[etree._ElementTree]:
    return [etree.parse(str(Path(schema_dir()) / name)) for name in FILES]


def max_length(xsd: list[etree._ElementTree], container: str, child: str) -> int:
    """maxLength of element `child` declared inside the element/type/group `container`."""
    for tree in xsd:
        for kind in ("element", "complexType", "group"):
            for node in tree.iterfind(f".//{XS}{kind}[@name='{container}']"):
                for element in node.iter(f"{XS}element"):
                    if element.get("name") == child:
                        limit = element.find(f".//{XS}maxLength")
                        assert limit is not None, f"{container}/{child} has no maxLength"
                        return int(limit.get("value", "0"))
    raise AssertionError(f"{container}/{child} not found in the schema")


@pytest.mark.parametrize(
    ("container", "child", "ours"),
    [
        ("CustomerAdd", "Name", naming.NAME_MAX),
        ("VendorAdd", "Name", naming.NAME_MAX),
        ("CustomerMod", "Name", naming.NAME_MAX),
        ("ItemServiceAdd", "Name", naming.ITEM_NAME_MAX),
        ("ItemOtherChargeAdd", "Name", naming.ITEM_NAME_MAX),
        ("AccountAdd", "Name", NAME_LEVEL_MAX),
        ("ClassAdd", "Name", NAME_LEVEL_MAX),
        ("InvoiceAdd", "RefNumber", naming.INVOICE_REF_MAX),
        ("BillAdd", "RefNumber", naming.TXN_REF_MAX),
        ("ReceivePaymentAdd", "RefNumber", naming.TXN_REF_MAX),
        ("InvoiceAdd", "Memo", naming.MEMO_MAX),
        ("BillAdd", "Memo", naming.MEMO_MAX),
        ("ReceivePaymentAdd", "Memo", naming.MEMO_MAX),
        ("ExpenseLineAdd", "Memo", naming.MEMO_MAX),
        ("TxnLineCorePriceLevelAdd", "Desc", naming.DESC_MAX),
        ("AddressData", "Addr1", naming.ADDR_MAX),
        ("AddressData", "Addr5", naming.ADDR_MAX),
        ("AddressData", "City", naming.CITY_MAX),
        ("AddressData", "State", naming.STATE_MAX),
        ("AddressData", "PostalCode", naming.POSTAL_CODE_MAX),
        ("AddressData", "Country", naming.COUNTRY_MAX),
        ("CommInfo", "Phone", naming.PHONE_MAX),
        ("CommInfo", "Email", naming.EMAIL_MAX),
        ("SalesTaxCodeAdd", "Name", TAX_CODE_MAX),
        ("StandardTermsAdd", "Name", NAME_LEVEL_MAX),
        ("PaymentMethodAdd", "Name", NAME_LEVEL_MAX),
        ("ListCoreMod", "EditSequence", 16),
    ],
)
def test_limit_matches_the_schema(
    xsd: list[etree._ElementTree], container: str, child: str, ours: int
) -> None:
    assert max_length(xsd, container, child) == ours
