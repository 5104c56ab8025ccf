"""The command line: cycles against a gateway, password from the environment, listings."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mlconnector.qbsim.main import run

from .conftest import FakeGateway
from .test_driver import CUSTOMER_ADD

INVOICE_ADD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n'
    '<QBXML><QBXMLMsgsRq onError="stopOnError"><InvoiceAddRq requestID="cmd-2"><InvoiceAdd>'
    "<CustomerRef><FullName>Garcia, Maria</FullName></CustomerRef><TxnDate>2024-05-01</TxnDate>"
    "<RefNumber>1001</RefNumber>"
    "<InvoiceLineAdd><ItemRef><FullName>Labor</FullName></ItemRef><Quantity>2</Quantity>"
    "<Rate>95.00</Rate></InvoiceLineAdd>"
    "<InvoiceLineAdd><ItemRef><FullName>PVC-075</FullName></ItemRef><Quantity>10</Quantity>"
    "<Rate>3.75</Rate></InvoiceLineAdd>"
    "</InvoiceAdd></InvoiceAddRq></QBXMLMsgsRq></QBXML>"
)


def test_cycles_then_list(
    gateway: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QBSIM_PASSWORD", "s3cret")
    gateway.requests = [CUSTOMER_ADD, INVOICE_ADD]
    company = tmp_path / "files" / "contractor.sqlite"
    out = io.StringIO()
    code = run(
        ["--gateway", gateway.url, "--user", "acme", "--company", str(company), "--cycles", "2"],
        out=out,
    )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "cycle: 2 message(s) | 2 request(s) | ok: 2 | closed: 'OK'"
    assert lines[1].split()[:3] == ["CustomerAddRs", "0", "Garcia,"]
    assert lines[2].split()[:3] == ["InvoiceAddRs", "0", "1001"]
    assert lines[3] == "cycle: 0 message(s) | 0 request(s) | closed: 'OK'"

    listing = io.StringIO()
    assert run(["--company", str(company), "--list", "invoices"], out=listing) == 0
    row = listing.getvalue().split()
    assert row[1:4] == ["1001", "2024-05-01", "Garcia,"]
    assert row[5:] == ["subtotal", "227.50", "tax", "3.09", "total", "230.59", "open", "230.59"]

    customers = io.StringIO()
    assert run(["--company", str(company), "--list", "customers"], out=customers) == 0
    assert customers.getvalue().split()[1:] == ["Garcia,", "Maria", "230.59"]


def test_wrong_password_exits_1(gateway: FakeGateway) -> None:
    out = io.StringIO()
    code = run(["--gateway", gateway.url, "--user", "acme", "--password", "nope"], out=out)
    assert code == 1
    assert out.getvalue() == "cycle: authenticate: not a valid user (nvu)\n"


def test_missing_password_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QBSIM_PASSWORD", raising=False)
    assert run(["--gateway", "http://127.0.0.1:9/qbwc", "--user", "acme"]) == 2
