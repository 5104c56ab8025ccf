"""The protocol complete: qbXML version choice, clientVersion for old Web Connectors, the
interactive operations, and every HRESULT explained for the office manager (and in audit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from mlconnector.gateway.clientversion import client_version_answer, parse_client_version
from mlconnector.gateway.hresults import HRESULTS, explain_hresult, parse_hresult
from mlconnector.gateway.qbxmlversion import (
    UnsupportedQuickBooks,
    choose_qbxml_version,
    host_versions,
)

from .conftest import BINDING, COMPANY_FILE, Gateway, customer_command

pytestmark = pytest.mark.nats


def hcp_response(*versions: str) -> str:
    """QuickBooks' HostQueryRs as the Web Connector passes it on the first sendRequestXML."""
    supported = "".join(f"<SupportedQBXMLVersion>{v}</SupportedQBXMLVersion>" for v in versions)
    return (
        '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs>'
        '<HostQueryRs requestID="0" statusCode="0" statusSeverity="Info" statusMessage="Status OK">'
        "<HostRet><ProductName>QuickBooks Pro 2012</ProductName><MajorVersion>22</MajorVersion>"
        f"<MinorVersion>0</MinorVersion><Country>US</Country>{supported}"
        "<IsAutomaticLogin>false</IsAutomaticLogin><QBFileMode>SingleUser</QBFileMode>"
        "</HostRet></HostQueryRs></QBXMLMsgsRs></QBXML>"
    )


# --- qbXML version ------------------------------------------------------------------------


def test_the_version_is_the_highest_we_build_that_quickbooks_accepts() -> None:
    newer = hcp_response(*(f"{n}.0" for n in range(1, 17)))
    assert host_versions(newer)[-1] == (16, 0)
    assert choose_qbxml_version(newer, "16", "0") == "13.0"
    assert choose_qbxml_version(hcp_response("12.0", "13.0"), "13", "0") == "13.0"
    # No HostRet (every call after the first): the major/minor the Web Connector reports.
    assert choose_qbxml_version("", "13.0", "0") == "13.0"
    assert choose_qbxml_version("", "15", "") == "13.0"
    # A client that reports nothing at all.
    assert choose_qbxml_version("", "", "") == "13.0"


def test_a_quickbooks_older_than_qbxml_13_is_refused_with_what_to_do() -> None:
    with pytest.raises(UnsupportedQuickBooks) as refused:
        choose_qbxml_version(hcp_response("CA2.0", "11.0", "12.0"), "12", "0")
    assert str(refused.value) == (
        "This QuickBooks accepts requests up to qbXML 12.0, and ml-connector needs qbXML 13.0 "
        "(QuickBooks Desktop 2014 or later): update QuickBooks Desktop on the computer that "
        "runs the Web Connector; nothing was sent and nothing is lost."
    )
    with pytest.raises(UnsupportedQuickBooks):
        choose_qbxml_version("", "12", "0")
    with pytest.raises(ValueError, match="whole number"):
        choose_qbxml_version("", "thirteen", "0")


async def test_send_request_xml_accepts_13_0_as_the_major_version(gateway: Gateway) -> None:
    """Some clients send qbXMLMajorVers "13.0" although the WSDL says s:int (zeep cannot send
    that, so this one envelope is hand-built): today a SOAP fault, now the request."""
    await gateway.add_connection("acme", "acme-qb", "pw-acme")
    await gateway.publish(customer_command("acme", 101, "Ada Lovelace"))
    ticket, _ = await gateway.call("authenticate", "acme-qb", "pw-acme")
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<sendRequestXML xmlns="http://developer.intuit.com/"><ticket>{ticket}</ticket>'
        "<strHCPResponse></strHCPResponse><strCompanyFileName>c.qbw</strCompanyFileName>"
        "<qbXMLCountry>US</qbXMLCountry><qbXMLMajorVers>13.0</qbXMLMajorVers>"
        "<qbXMLMinorVers>0</qbXMLMinorVers></sendRequestXML></soap:Body></soap:Envelope>"
    )
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway.url, content=envelope, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        bad = await client.post(
            gateway.url,
            content=envelope.replace(">13.0<", ">thirteen<"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    assert response.status_code == 200
    result = etree.fromstring(response.content).findtext(".//{*}sendRequestXMLResult") or ""
    assert "<CustomerAdd><Name>Ada Lovelace</Name></CustomerAdd>" in result
    assert bad.status_code == 500
    assert etree.fromstring(bad.content).findtext(".//faultstring") == (
        "expected an integer, got 'thirteen'"
    )


async def test_an_old_quickbooks_gets_nothing_and_the_reason(gateway: Gateway) -> None:
    await gateway.add_connection("acme", "acme-qb", "pw-acme")
    await gateway.publish(customer_command("acme", 101, "Ada Lovelace"))
    ticket, _ = await gateway.call("authenticate", "acme-qb", "pw-acme")
    request = await gateway.call(
        "sendRequestXML", ticket, hcp_response("11.0", "12.0"), COMPANY_FILE, "US", 12, 0
    )
    assert request is None  # "" -> the Web Connector calls getLastError
    assert (await gateway.call("getLastError", ticket)).startswith(
        "This QuickBooks accepts requests up to qbXML 12.0"
    )
    assert await gateway.call("closeConnection", ticket) == "Posted 0, failed 0, waiting 0, " + (
        "retrying 0"
    )
    # Nothing was consumed: with a current QuickBooks the command goes.
    ticket, _ = await gateway.call("authenticate", "acme-qb", "pw-acme")
    request = await gateway.call(
        "sendRequestXML", ticket, hcp_response("12.0", "13.0"), COMPANY_FILE, "US", 13, 0
    )
    assert "<CustomerAdd><Name>Ada Lovelace</Name></CustomerAdd>" in request
    assert '<?qbxml version="13.0"?>' in request


# --- clientVersion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "prefix"),
    [
        ("1.5.0.0", "E:"),
        ("1.0", "E:"),
        ("2.0.0.139", "W:"),
        ("2.1.0.30", "W:"),
        ("2.2.0.33", "W:"),
        ("2.2.0.34", ""),
        ("2.3.0.215", ""),
        ("3.0", ""),
        ("", ""),
        ("not a version", ""),
    ],
)
async def test_client_version_warns_or_refuses_old_web_connectors(
    gateway: Gateway, version: str, prefix: str
) -> None:
    answer = await gateway.call("clientVersion", version)
    assert (answer or "")[:2] == prefix or (prefix == "" and answer is None)
    assert (answer or "") == client_version_answer(version)


def test_client_version_texts_name_the_build_and_what_to_do() -> None:
    assert client_version_answer("1.5.0.0") == (
        "E:This QuickBooks Web Connector (1.5.0.0) is too old for ml-connector: install the "
        "current QuickBooks Web Connector from Intuit, then run the update again."
    )
    assert client_version_answer("2.1.0.30").startswith(
        "W:This QuickBooks Web Connector (2.1.0.30) is older than 2.2.0.34"
    )
    assert parse_client_version("2.3.0.215") == (2, 3, 0, 215)
    assert parse_client_version("2.2") == (2, 2, 0, 0)


# --- interactive operations ---------------------------------------------------------------


async def test_interactive_operations_answer_from_the_served_wsdl(gateway: Gateway) -> None:
    client = await asyncio.to_thread(zeep.Client, gateway.url + "?wsdl")
    soap = client.create_service(BINDING, gateway.url)
    # "" everywhere (zeep reads it as None): no page to open, nothing to undo, done.
    assert await asyncio.to_thread(soap.getInteractiveURL, "ticket", "session") is None
    assert await asyncio.to_thread(soap.interactiveRejected, "ticket", "user said no") is None
    assert await asyncio.to_thread(soap.interactiveDone, "ticket") is None
    # The eight operations are still there, unchanged.
    assert await asyncio.to_thread(soap.serverVersion) == "ml-connector qbwc-gateway 0.1.0"


def test_the_packaged_wsdls_do_not_declare_interactive_operations(
    qbwc_wsdl: Path, official_anchors: Path
) -> None:
    """Why the served WSDL adds them: neither of Intuit's declares them."""
    alt = official_anchors / "qbxml" / "alt-wsdl" / "official-6-method" / "QBWebConnectorSvc.wsdl"
    for path in (qbwc_wsdl, alt):
        text = path.read_text(encoding="utf-8")
        assert "getInteractiveURL" not in text
        assert "interactiveDone" not in text


# --- HRESULTs -----------------------------------------------------------------------------


def test_every_known_hresult_is_one_sentence_with_an_action() -> None:
    assert len(HRESULTS) == 19
    for code in HRESULTS:
        text = explain_hresult(f"0x{code:08X}", "", "request")
        assert text.endswith("nothing was lost; the records go again at the next update.")
        assert f"(0x{code:08X}): " in text
        assert "\n" not in text


def test_hresults_read_in_every_form_the_web_connector_writes_them() -> None:
    assert parse_hresult("0x80040408") == 0x80040408
    assert parse_hresult("80040408") == 0x80040408
    assert parse_hresult("-2147220472") == 0x80040408  # .NET's signed Int32
    assert parse_hresult("") is None
    assert explain_hresult("0x80040410", "  The file is\n in use ", "connection") == (
        "The company file is open in single-user mode on another computer (0x80040410): ask "
        "whoever has it open to switch to multi-user mode (File > Switch to Multi-user Mode) or "
        "to close it; nothing was sent; the records go at the next update. (QuickBooks said: "
        "The file is in use)"
    )
    assert explain_hresult("0x8004FFFF", "odd", "request") == (
        "The Web Connector reported error 0x8004FFFF; nothing was lost; the records go again "
        "at the next update. If it happens again, send this message to ml-connector support. "
        "(QuickBooks said: odd)"
    )


async def test_a_receive_hresult_is_explained_in_get_last_error_and_audit(
    gateway: Gateway,
) -> None:
    await gateway.add_connection("acme", "acme-qb", "pw-acme")
    await gateway.publish(customer_command("acme", 101, "Ada Lovelace"))
    ticket, _ = await gateway.call("authenticate", "acme-qb", "pw-acme")
    assert await gateway.send(ticket)
    message = "Could not start QuickBooks."
    assert await gateway.call("receiveResponseXML", ticket, "", "0x80040408", message) == -1
    expected = explain_hresult("0x80040408", message, "request")
    assert expected.startswith(
        "QuickBooks is not running and could not be started (0x80040408): open QuickBooks"
    )
    assert await gateway.call("getLastError", ticket) == expected
    outcomes = await gateway.outcomes("acme")
    assert [(o.status, o.status_message) for o in outcomes] == [("retrying", expected)]


async def test_a_connection_error_is_explained(gateway: Gateway) -> None:
    await gateway.add_connection("acme", "acme-qb", "pw-acme")
    await gateway.publish(customer_command("acme", 101, "Ada Lovelace"))
    ticket, _ = await gateway.call("authenticate", "acme-qb", "pw-acme")
    assert await gateway.call("connectionError", ticket, "-2147220470", "Wrong file") == "done"
    assert await gateway.call("getLastError", ticket) == (
        "A different company file is open in QuickBooks (0x8004040A): close the other company "
        "file and open this connection's company file; nothing was sent; the records go at the "
        "next update. (QuickBooks said: Wrong file)"
    )
