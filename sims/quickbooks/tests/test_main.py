"""The command line: cycles against a gateway, password from the environment, listings."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.faults import FAULT_NAMES
from mlconnector.qbsim.main import open_company, run

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
    assert lines[0] == (
        "cycle 1: 2 message(s) | 2 request(s) (CustomerAdd 1, InvoiceAdd 1) | ok: 2 | closed: 'OK'"
    )
    assert lines[1].split()[:3] == ["CustomerAddRs", "0", "Garcia,"]
    assert lines[2].split()[:3] == ["InvoiceAddRs", "0", "1001"]
    assert lines[3] == "cycle 2: 0 message(s) | 0 request(s) | closed: 'OK'"

    listing = io.StringIO()
    assert run(["company", "--company", str(company), "invoices"], out=listing) == 0
    header, rule, row, total = listing.getvalue().splitlines()
    assert header.split() == [
        "TxnID",
        "Ref",
        "Date",
        "Customer",
        "Subtotal",
        "Tax",
        "Total",
        "Open",
        "Status",
    ]
    assert set(rule) == {"-"}
    assert row.split()[1:] == [
        "1001",
        "2024-05-01",
        "Garcia,",
        "Maria",
        "227.50",
        "3.09",
        "230.59",
        "230.59",
        "open",
    ]
    assert total == "1 invoice; total 230.59"

    customers = io.StringIO()
    assert run(["--company", str(company), "--list", "customers"], out=customers) == 0
    row = customers.getvalue().splitlines()[2]
    assert row.split()[1:4] == ["Garcia,", "Maria", "230.59"]
    assert customers.getvalue().splitlines()[-1] == "1 customer; balance 230.59"


@pytest.mark.parametrize("what", ["vendors", "payments", "bills", "credit-memos"])
def test_company_lists_print_tables(what: str, tmp_path: Path) -> None:
    open_company(str(tmp_path / "c.sqlite")).close()
    out = io.StringIO()
    assert run(["company", "--company", str(tmp_path / "c.sqlite"), what], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith(f"{len(lines) - 3} {what.replace('-', ' ')}; ")


def test_a_missing_company_file_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.sqlite"
    out = io.StringIO()
    assert run(["company", "--company", str(missing), "invoices"], out=out) == 2
    assert out.getvalue() == ""
    assert capsys.readouterr().err == (
        f"Error: there is no company file at {missing}: give the path a simulated Web "
        "Connector wrote (`mlconnector up` keeps its demo company in "
        "~/.mlconnector/quickbooks-demo.sqlite).\n"
    )
    assert not missing.exists()


def test_company_needs_a_known_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["company", "estimates"])
    assert exited.value.code == 2
    assert "invalid choice: 'estimates'" in capsys.readouterr().err


def test_faults_are_printed_and_reproducible(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QBSIM_PASSWORD", "s3cret")
    outputs = []
    for _ in range(2):
        gateway.requests = [CUSTOMER_ADD]
        gateway.sent = 0
        out = io.StringIO()
        argv = ["--gateway", gateway.url, "--user", "acme", "--cycles", "2"]
        code = run([*argv, "--faults", "qb-not-running:0.5", "--seed", "4"], out=out)
        assert code == 0
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert lines[0] == "faults: qb-not-running:0.5 (seed 4)"
    assert any("faults: qb-not-running" in line for line in lines)
    assert any(
        line == "  fault qb-not-running @ cycle: connectionError 0x80040408" for line in lines
    )


def test_latency_without_seed_picks_and_prints_one(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QBSIM_PASSWORD", "s3cret")
    gateway.requests = [CUSTOMER_ADD]
    out = io.StringIO()
    argv = ["--gateway", gateway.url, "--user", "acme", "--latency", "1"]
    assert run([*argv, "--request-timeout", "5"], out=out) == 0
    first, summary, *_ = out.getvalue().splitlines()
    assert first.startswith("faults: slow:1 (seed ")
    assert "faults: slow" in summary


def test_request_timeout_is_reported(gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBSIM_PASSWORD", "s3cret")
    gateway.requests = [CUSTOMER_ADD]
    out = io.StringIO()
    argv = ["--gateway", gateway.url, "--user", "acme", "--latency", "200"]
    assert run([*argv, "--request-timeout", "0.05", "--seed", "1"], out=out) == 0
    text = out.getvalue()
    assert "timeouts: message 1 took 0.2 s, over 0.05 s" in text
    assert "abandoned: message 1 timed out in QuickBooks" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "qb-on-fire"], "--faults: unknown fault 'qb-on-fire'"),
        (["--faults", "slow:2"], "--faults: probability of 'slow' must be from 0 to 1"),
        (["--latency", "-5"], "--latency must be 0 or more milliseconds"),
        (["--cycles", "1", "--every", "5"], "not allowed with argument"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["--gateway", "http://127.0.0.1:9/qbwc", "--user", "u", "--password", "p", *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_help_documents_the_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(["--help"])
    text = capsys.readouterr().out
    for name in FAULT_NAMES:
        assert name in text
    assert "qb-not-running:0.2,response-lost:0.1,slow:1.0" in text


def test_root_cli_dispatches_to_the_simulator(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlconnector.cli.main import app

    runner = CliRunner()
    company = str(tmp_path / "c.sqlite")
    open_company(company).close()
    result = runner.invoke(app, ["sim", "quickbooks", "company", "--company", company, "bills"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "0 bills; amount 0.00"
    helped = runner.invoke(app, ["sim", "quickbooks", "--help"])
    assert helped.exit_code == 0
    assert "--faults SPEC" in helped.output


def test_wrong_password_exits_1(gateway: FakeGateway) -> None:
    out = io.StringIO()
    code = run(["--gateway", gateway.url, "--user", "acme", "--password", "nope"], out=out)
    assert code == 1
    assert out.getvalue() == "cycle 1: authenticate: not a valid user (nvu)\n"


def test_missing_password_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QBSIM_PASSWORD", raising=False)
    assert run(["--gateway", "http://127.0.0.1:9/qbwc", "--user", "acme"]) == 2


def test_every_runs_until_stopped(gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBSIM_PASSWORD", "s3cret")
    gateway.requests = [CUSTOMER_ADD]
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    out = io.StringIO()
    try:
        code = run(
            ["--gateway", gateway.url, "--user", "acme", "--every", "0.05"], out=out, stop=stop
        )
    finally:
        timer.cancel()
    assert code == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("cycle ")]
    assert len(lines) >= 2
    assert lines[0].startswith("cycle 1: 1 message(s)")
    assert lines[1].startswith("cycle 2: 0 message(s)")


def test_company_lists_show_credit_memos_voids_and_balances(tmp_path: Path) -> None:
    from mlconnector.qbsim.company import seed_contractor
    from mlconnector.qbsim.processor import process

    path = tmp_path / "c.sqlite"
    with Company(str(path)) as company:
        seed_contractor(company)
        answer = process(
            company,
            '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML>'
            '<QBXMLMsgsRq onError="stopOnError">'
            "<CustomerAddRq><CustomerAdd><Name>Garcia, Maria</Name></CustomerAdd></CustomerAddRq>"
            + "".join(
                "<InvoiceAddRq><InvoiceAdd><CustomerRef><FullName>Garcia, Maria</FullName>"
                f"</CustomerRef><TxnDate>2024-05-01</TxnDate><RefNumber>{n}</RefNumber>"
                "<InvoiceLineAdd><ItemRef><FullName>Labor</FullName></ItemRef>"
                "<Quantity>2</Quantity><Rate>95.00</Rate></InvoiceLineAdd>"
                "<InvoiceLineAdd><ItemRef><FullName>PVC-075</FullName></ItemRef>"
                "<Quantity>10</Quantity><Rate>3.75</Rate></InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
                for n in ("1001", "1002")
            )
            + "<CreditMemoAddRq><CreditMemoAdd><CustomerRef><FullName>Garcia, Maria</FullName>"
            "</CustomerRef><TxnDate>2024-05-02</TxnDate><RefNumber>CM-1</RefNumber>"
            "<CreditMemoLineAdd><ItemRef><FullName>PVC-075</FullName></ItemRef>"
            "<Quantity>4</Quantity><Rate>3.75</Rate></CreditMemoLineAdd></CreditMemoAdd>"
            "</CreditMemoAddRq></QBXMLMsgsRq></QBXML>",
        )
        assert answer.count('statusCode="0"') == 4
        first = company.invoices()[0]
        company.void_txn("Invoice", first.txn_id)

    def listing(what: str) -> list[str]:
        out = io.StringIO()
        assert run(["company", "--company", str(path), what], out=out) == 0
        return out.getvalue().splitlines()

    invoices = listing("invoices")
    assert [row.split()[1:] for row in invoices[2:4]] == [
        ["1001", "2024-05-01", "Garcia,", "Maria", "0.00", "0.00", "0.00", "0.00", "void"],
        ["1002", "2024-05-01", "Garcia,", "Maria", "227.50", "3.09", "230.59", "230.59", "open"],
    ]
    assert invoices[-1] == "2 invoices (1 void); total 230.59"
    memos = listing("credit-memos")
    assert memos[0].split() == [
        "TxnID",
        "Ref",
        "Date",
        "Customer",
        "Subtotal",
        "Tax",
        "Total",
        "Remaining",
        "Status",
    ]
    # 15.00 x 8.25% = 1.2375 -> 1.24.
    assert memos[2].split()[1:] == [
        "CM-1",
        "2024-05-02",
        "Garcia,",
        "Maria",
        "15.00",
        "1.24",
        "16.24",
        "16.24",
        "open",
    ]
    assert memos[-1] == "1 credit memo; total 16.24"
    accounts = {row[20:51].strip(): row.split()[-1] for row in listing("accounts")[2:-1]}
    assert (
        accounts["Accounts Receivable"],
        accounts["Sales Tax Payable"],
        accounts["Materials Income"],
    ) == (
        "214.35",
        "1.85",
        "22.50",
    )
    assert listing("accounts")[-1].endswith("; accounts receivable 214.35")
    assert listing("customers")[-1] == "1 customer; balance 214.35"
