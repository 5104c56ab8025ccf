"""The Mod helpers and the "changed" description, without a server."""

from __future__ import annotations

import pytest
from lxml import etree

from mlconnector.common.qbxml import element_from_string
from mlconnector.gateway.mods import (
    EditQuery,
    ModShapeError,
    describe,
    difference,
    edit_query,
    fill_mod,
    query_element,
)


def test_the_query_follows_from_the_mod() -> None:
    customer = (
        "<CustomerModRq><CustomerMod><ListID>@self</ListID>"
        "<EditSequence>@edit-sequence</EditSequence><Name>A</Name></CustomerMod></CustomerModRq>"
    )
    invoice = (
        "<InvoiceModRq><InvoiceMod><TxnID>@self</TxnID>"
        "<EditSequence>@edit-sequence</EditSequence></InvoiceMod></InvoiceModRq>"
    )
    assert edit_query(customer) == EditQuery("CustomerQueryRq", "ListID")
    assert edit_query(invoice) == EditQuery("InvoiceQueryRq", "TxnID")
    element = query_element(EditQuery("VendorQueryRq", "ListID"), ["1-1", "2-2", "1-1"])
    assert etree.tostring(element, encoding="unicode") == (
        "<VendorQueryRq><ListID>1-1</ListID><ListID>2-2</ListID>"
        "<IncludeRetElement>ListID</IncludeRetElement>"
        "<IncludeRetElement>EditSequence</IncludeRetElement></VendorQueryRq>"
    )
    filled = fill_mod(element_from_string(customer), "80000001-1741111111", "1741111111")
    assert etree.tostring(filled, encoding="unicode") == (
        "<CustomerModRq><CustomerMod><ListID>80000001-1741111111</ListID>"
        "<EditSequence>1741111111</EditSequence><Name>A</Name></CustomerMod></CustomerModRq>"
    )


@pytest.mark.parametrize(
    ("mod", "error"),
    [
        ("<CustomerAddRq><CustomerAdd/></CustomerAddRq>", "<CustomerAddRq> is not a Mod request"),
        (
            "<CustomerModRq><CustomerMod><ListID>8-1</ListID>"
            "<EditSequence>@edit-sequence</EditSequence></CustomerMod></CustomerModRq>",
            "<CustomerModRq> must hold @self in exactly one ListID or TxnID",
        ),
        (
            "<CustomerModRq><CustomerMod><ListID>@self</ListID>"
            "<EditSequence>17</EditSequence></CustomerMod></CustomerModRq>",
            "<CustomerModRq> must hold @edit-sequence in its EditSequence",
        ),
    ],
)
def test_a_mod_without_its_placeholders_is_refused(mod: str, error: str) -> None:
    with pytest.raises(ModShapeError) as raised:
        edit_query(mod)
    assert str(raised.value) == error


def test_difference_and_its_description() -> None:
    posted = {"total": "408.05", "line 2": "PVC-075: 4 x 36.50 = 146.00", "memo": "gate code"}
    new = {
        "total": "420.10",
        "line 2": "PVC-075: 5 x 36.50 = 182.50",
        "line 3": "Labor: 1 x 95.00 = 95.00",
    }
    diff = difference(posted, new)
    assert diff == {
        "total": ("408.05", "420.10"),
        "line 2": ("PVC-075: 4 x 36.50 = 146.00", "PVC-075: 5 x 36.50 = 182.50"),
        "line 3": (None, "Labor: 1 x 95.00 = 95.00"),
        "memo": ("gate code", None),
    }
    assert describe(diff) == (
        "total 408.05 -> 420.10; line 2 PVC-075: 4 x 36.50 = 146.00 -> 5 x 36.50 = 182.50; "
        "line 3 added: Labor: 1 x 95.00 = 95.00; memo removed: gate code"
    )
    assert describe({"line 1": ("Labor: 95.00", "Trip charge: 95.00")}) == (
        "line 1 Labor: 95.00 -> Trip charge: 95.00"
    )
