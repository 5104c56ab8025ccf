"""HTTP/SOAP surface: faults for bad input, the WSDL, health."""

from __future__ import annotations

import asyncio
import time

import pytest
import requests
import zeep
from lxml import etree

from .conftest import BINDING, Gateway

pytestmark = pytest.mark.nats

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<authenticate xmlns="http://developer.intuit.com/"><strUserName>&lol9;</strUserName>
<strPassword>x</strPassword></authenticate></soap:Body></soap:Envelope>"""


def _post(url: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=10)


def _fault(response: requests.Response) -> tuple[int, str, str]:
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault is not None
    code = fault.findtext("faultcode") or ""
    return response.status_code, code, fault.findtext("faultstring") or ""


async def test_malformed_soap_is_a_client_fault(gateway: Gateway) -> None:
    response = await asyncio.to_thread(_post, gateway.url, b"<soap:Envelope><unclosed>")
    status, code, text = _fault(response)
    assert (status, code) == (500, "soap:Client")
    assert text.startswith("The request is not acceptable XML: malformed XML: ")


async def test_not_an_envelope_and_unknown_operation(gateway: Gateway) -> None:
    response = await asyncio.to_thread(_post, gateway.url, b"<hello/>")
    assert _fault(response) == (500, "soap:Client", "The request is not a SOAP Envelope")
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
        '<dropTables xmlns="http://developer.intuit.com/"/></soap:Body></soap:Envelope>'
    ).encode()
    response = await asyncio.to_thread(_post, gateway.url, body)
    status, code, text = _fault(response)
    assert (status, code) == (500, "soap:Client")
    assert text.startswith("Unknown operation {http://developer.intuit.com/}dropTables; ")


async def test_entity_declarations_are_refused_without_expansion(gateway: Gateway) -> None:
    started = time.monotonic()
    response = await asyncio.to_thread(_post, gateway.url, BILLION_LAUGHS)
    elapsed = time.monotonic() - started
    assert _fault(response) == (
        500,
        "soap:Client",
        "The request is not acceptable XML: XML with a DOCTYPE or entity declaration is not "
        "accepted",
    )
    assert elapsed < 2.0


@pytest.mark.parametrize(
    "gateway_settings", [{"QBWC_MAX_BODY_BYTES": 4096, "QBWC_CHANGES_EVERY_SECONDS": 0}]
)
async def test_oversized_body_is_refused(gateway: Gateway) -> None:
    body = b"<a>" + b"x" * 5000 + b"</a>"
    response = await asyncio.to_thread(_post, gateway.url, body)
    assert _fault(response) == (
        500,
        "soap:Client",
        "The request body is larger than this gateway accepts",
    )


@pytest.mark.parametrize(
    "gateway_settings",
    [
        {
            "QBWC_PUBLIC_URL": "https://qbwc.acme-plumbing.example/qbwc",
            "QBWC_CHANGES_EVERY_SECONDS": 0,
        }
    ],
)
async def test_wsdl_points_at_public_url(gateway: Gateway) -> None:
    for query in ("?wsdl", "?WSDL", "?wsdl="):
        response = await asyncio.to_thread(requests.get, gateway.url + query, timeout=10)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        root = etree.fromstring(response.content)
        locations = [a.get("location") for a in root.iter("{*}address")]
        assert locations == ["https://qbwc.acme-plumbing.example/qbwc"] * 2
    # zeep can build a client from what we serve, and it names our address.
    client = await asyncio.to_thread(zeep.Client, gateway.url + "?wsdl")
    service = client.bind("TroubleshootWebServiceFS", "TroubleshootWebServiceFSSoap")
    assert service._binding_options["address"] == "https://qbwc.acme-plumbing.example/qbwc"
    assert str(client.wsdl.bindings[BINDING].name) == BINDING


async def test_healthz(gateway: Gateway) -> None:
    url = gateway.url.removesuffix("/qbwc") + "/healthz"
    response = await asyncio.to_thread(requests.get, url, timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok", "nats": True})
