"""qbXML request builders and a runner shared by the simulator's processor tests."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.processor import process

Validate = Callable[[str], None]


def message(*requests: str, on_error: str = "continueOnError") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}">{"".join(requests)}</QBXMLMsgsRq></QBXML>'
    )


def rq(tag: str, rid: str, body: str = "", attrs: str = "") -> str:
    """<{tag}Rq requestID=...>{body}</{tag}Rq>."""
    return f'<{tag}Rq requestID="{rid}"{attrs}>{body}</{tag}Rq>'


def add(tag: str, rid: str, body: str) -> str:
    """<{tag}AddRq><{tag}Add>{body}</{tag}Add></{tag}AddRq>."""
    return rq(f"{tag}Add", rid, f"<{tag}Add>{body}</{tag}Add>")


def mod(tag: str, rid: str, key: str, edit_sequence: str, body: str, id_tag: str = "ListID") -> str:
    return rq(
        f"{tag}Mod",
        rid,
        f"<{tag}Mod><{id_tag}>{key}</{id_tag}><EditSequence>{edit_sequence}</EditSequence>"
        f"{body}</{tag}Mod>",
    )


def ref(tag: str, full_name: str) -> str:
    return f"<{tag}><FullName>{full_name}</FullName></{tag}>"


def line(
    item: str, quantity: str | None = None, rate: str | None = None, amount: str | None = None
) -> str:
    parts = ref("ItemRef", item)
    if quantity is not None:
        parts += f"<Quantity>{quantity}</Quantity>"
    if rate is not None:
        parts += f"<Rate>{rate}</Rate>"
    if amount is not None:
        parts += f"<Amount>{amount}</Amount>"
    return f"<InvoiceLineAdd>{parts}</InvoiceLineAdd>"


def invoice(rid: str, customer: str, lines: str, ref_number: str, extra: str = "") -> str:
    return add(
        "Invoice",
        rid,
        f"{ref('CustomerRef', customer)}<TxnDate>2024-05-01</TxnDate>"
        f"<RefNumber>{ref_number}</RefNumber>{extra}{lines}",
    )


def run(company: Company, document: str, assert_valid: Validate) -> etree._Element:
    """Process `document`, check the response against the schema, return <QBXMLMsgsRs>."""
    response = process(company, document)
    assert_valid(response)
    msgs = etree.fromstring(response.encode("utf-8")).find("QBXMLMsgsRs")
    assert msgs is not None
    return msgs


def statuses(msgs: etree._Element) -> list[tuple[str | None, str | None]]:
    return [(r.get("requestID"), r.get("statusCode")) for r in msgs]


def ret(msgs: etree._Element, index: int = 0) -> etree._Element:
    """The first *Ret of response `index`."""
    found = msgs[index][0] if len(msgs[index]) else None
    assert found is not None, etree.tostring(msgs[index])
    return found


def text(element: etree._Element, path: str) -> str:
    found = element.findtext(path)
    assert found is not None, f"{path} missing in {etree.tostring(element)!r}"
    return found
