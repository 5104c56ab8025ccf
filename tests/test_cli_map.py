"""`mlconnector map`: the operator's dry run, run as the operator runs it (the installed script).

Records are ServiceTitan JSON: the sandbox's demo day (invoice 5001, customer 1001) and the
st-ingest samples built from ServiceTitan's OpenAPI schemas (payment, inventory bill, vendor).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from mlconnector.stsandbox.seed import seed_data, seed_records

MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")
SAMPLES = Path(__file__).resolve().parents[1] / "services" / "st-ingest" / "tests" / "samples"
CUSTOMERS, INVOICES = seed_records("demo")
INVOICE_5001 = INVOICES[0]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLCONNECTOR, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No NATS anywhere: a dry run must not need it."""
    return {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": ""}


def write(tmp_path: Path, name: str, record: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(record, indent=2))
    return str(path)


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return loaded


def blocks(stdout: str, title: str) -> list[etree._Element]:
    """Every qbXML block printed under `  <title>:` (indented four spaces), parsed."""
    found = []
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line == f"  {title}:":
            body = []
            for following in lines[index + 1 :]:
                if not following.startswith("    "):
                    break
                body.append(following)
            found.append(etree.fromstring("\n".join(body).encode()))
    return found


def test_demo_invoice(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "invoice.json", INVOICE_5001)], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(
        "ServiceTitan invoice 5001 (event dry-run:invoice:5001:2025-03-14T22:00:01+00:00) "
        "with the default mapping:"
    )
    assert "] InvoiceAddRq\n" in out
    assert "  summary:    Invoice 5001 for Hernandez, Maria: 408.05\n" in out
    assert "  depends on: customer 1001 (@ref:customer:1001)\n" in out
    (invoice,) = [b for b in blocks(out, "qbXML") if b.tag == "InvoiceAddRq"]
    add = invoice.find("InvoiceAdd")
    assert add is not None
    assert add.findtext("CustomerRef/ListID") == "@ref:customer:1001"
    assert add.findtext("RefNumber") == "5001"
    assert add.findtext("TxnDate") == "2025-03-14"
    lines = [
        (
            line.findtext("ItemRef/FullName"),
            line.findtext("Quantity"),
            line.findtext("Rate"),
            line.findtext("Amount"),
            line.findtext("SalesTaxCodeRef/FullName"),
        )
        for line in add.iter("InvoiceLineAdd")
    ]
    assert ("Labor", "2", "125.00", "250.00", "Non") in lines
    assert ("PVC-075", "4", "36.50", "146.00", "Tax") in lines
    assert sum(Decimal(amount or "0") for *_, amount, _ in lines) == Decimal("396.00")
    assert "    total: 408.05\n" in out  # the fingerprint
    (lookup,) = blocks(out, "lookup (sent first when an earlier attempt's outcome is unknown)")
    assert lookup.findtext("RefNumber") == "5001"


def test_demo_invoice_from_stdin_with_the_canonical_record(env: dict[str, str]) -> None:
    result = run(["map", "-", "--show-record"], env, stdin=json.dumps(INVOICE_5001))
    assert result.returncode == 0, result.stderr
    assert '    "total": "408.05",\n' in result.stdout
    assert '    "customer_name": "Hernandez, Maria",\n' in result.stdout


def test_unposted_record_is_mapped_with_a_note(env: dict[str, str], tmp_path: Path) -> None:
    (pending,) = [i for i in INVOICES if i["id"] == 5005]
    result = run(["map", write(tmp_path, "invoice.json", pending)], env)
    assert result.returncode == 0, result.stderr
    assert (
        "Note: its syncStatus is 'Pending', not 'Posted': accounting takes only records posted "
        "in a ServiceTitan batch, so st-ingest would not publish this version.\n"
    ) in result.stdout
    assert "Note: ServiceTitan marks" not in result.stdout
    inactive = {**sample("vendor.json"), "active": False}
    result = run(["map", write(tmp_path, "vendor.json", inactive)], env)
    assert result.returncode == 0, result.stderr
    assert "Note: ServiceTitan marks this record inactive (deleted or voided).\n" in result.stdout


def test_mapping_file_changes_the_qbxml(env: dict[str, str], tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('item_map:\n  Labor: "Service:Labor"\nar_account: "AR - Service"\n')
    result = run(
        ["map", write(tmp_path, "invoice.json", INVOICE_5001), "--mapping", str(mapping)], env
    )
    assert result.returncode == 0, result.stderr
    assert f"with the mapping in {mapping}:" in result.stdout
    (invoice,) = [b for b in blocks(result.stdout, "qbXML") if b.tag == "InvoiceAddRq"]
    assert invoice.findtext("InvoiceAdd/ARAccountRef/FullName") == "AR - Service"
    items = [line.findtext("ItemRef/FullName") for line in invoice.iter("InvoiceLineAdd")]
    assert "Service:Labor" in items
    assert "PVC-075" in items


def test_invalid_mapping_file_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("item_map:\n  Labor: ''\n")
    result = run(
        ["map", write(tmp_path, "invoice.json", INVOICE_5001), "--mapping", str(mapping)], env
    )
    assert result.returncode == 2
    assert f"Error: {mapping} is not a valid mapping:\n  item_map.Labor: " in result.stderr


def test_demo_customer_has_its_mod_form(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "customer.json", CUSTOMERS[0])], env)
    assert result.returncode == 0, result.stderr
    assert "ServiceTitan customer 1001 " in result.stdout
    (add,) = [b for b in blocks(result.stdout, "qbXML") if b.tag == "CustomerAddRq"]
    assert add.findtext("CustomerAdd/Name") == "Hernandez, Maria"
    mods = [b for title in mod_titles(result.stdout) for b in blocks(result.stdout, title)]
    assert [m.tag for m in mods] == ["CustomerModRq"]


def mod_titles(stdout: str) -> list[str]:
    return sorted({line.strip().rstrip(":") for line in stdout.splitlines() if "Mod form" in line})


def test_payment_of_the_demo_invoice(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "payment.json", sample("payment.json"))], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("ServiceTitan payment 9001 ")
    (payment,) = [b for b in blocks(out, "qbXML") if b.tag == "ReceivePaymentAddRq"]
    assert payment.findtext("ReceivePaymentAdd/CustomerRef/ListID") == "@ref:customer:1001"
    assert payment.findtext("ReceivePaymentAdd/TotalAmount") == "408.05"
    applied = payment.find("ReceivePaymentAdd/AppliedToTxnAdd")
    assert applied is not None
    assert applied.findtext("TxnID") == "@ref:invoice:5001"
    assert applied.findtext("PaymentAmount") == "408.05"
    assert "customer 1001 (@ref:customer:1001)" in out
    assert "invoice 5001 (@ref:invoice:5001)" in out


def test_inventory_bill(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "bill.json", sample("inventory-bill.json"))], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("ServiceTitan bill 6001 ")
    (bill,) = [b for b in blocks(out, "qbXML") if b.tag == "BillAddRq"]
    assert bill.findtext("BillAdd/VendorRef/ListID") == "@ref:vendor:7101"
    assert bill.findtext("BillAdd/RefNumber") == "FER-88231"
    assert "vendor 7101 (@ref:vendor:7101)" in out
    # However the mapping books them, the lines add up to ServiceTitan's bill amount.
    amounts = [
        Decimal(line.findtext("Amount") or "0")
        for line in [*bill.iter("ItemLineAdd"), *bill.iter("ExpenseLineAdd")]
    ]
    assert sum(amounts) == Decimal("215.08")
    assert {Decimal("142.00"), Decimal("45.60"), Decimal("15.48"), Decimal("12.00")} <= set(amounts)


def test_vendor(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "vendor.json", sample("vendor.json"))], env)
    assert result.returncode == 0, result.stderr
    (add,) = [b for b in blocks(result.stdout, "qbXML") if b.tag == "VendorAddRq"]
    assert add.findtext("VendorAdd/Name") == "Ferguson Plumbing Supply"


def test_bad_record_is_explained(env: dict[str, str], tmp_path: Path) -> None:
    raw = copy.deepcopy(INVOICE_5001)
    raw["items"][1]["total"] = "1,46.00"
    result = run(["map", write(tmp_path, "invoice.json", raw)], env)
    assert result.returncode == 1
    assert result.stdout == ""
    error, hint = result.stderr.splitlines()
    assert error == (
        "Error: ServiceTitan invoice 5001: field 'items[1].total' is not an amount: '1,46.00'"
    )
    assert hint.startswith("Hint: st-ingest would reject this record")
    assert hint.endswith("Check too that it is an invoice (--entity).")

    bill = sample("inventory-bill.json")
    bill["billAmount"] = "215,08"
    result = run(["map", write(tmp_path, "bill.json", bill)], env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "Error: ServiceTitan bill 6001: field 'billAmount' is not an amount: '215,08'"
    )


def test_record_the_mapper_refuses_is_explained(env: dict[str, str], tmp_path: Path) -> None:
    payment = {**sample("payment.json"), "unappliedAmount": "10.00"}
    result = run(["map", write(tmp_path, "payment.json", payment)], env)
    assert result.returncode == 1
    assert result.stdout == ""
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: payment 9001")
    assert "applied 408.05 + unapplied 10.00 = 418.05 but the total is 408.05" in error
    assert hint.startswith("Hint: Correct the payment's applications in ServiceTitan")


def test_entity_option_overrides_the_shape(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, "invoice.json", INVOICE_5001)
    result = run(["map", path, "--entity", "payment"], env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: ServiceTitan payment 5001: field 'date' is missing (and so is paidOn)\n"
    )
    assert run(["map", path, "--entity", "invoice"], env).returncode == 0


def test_unclear_input_is_refused_with_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    unknown = run(["map", write(tmp_path, "x.json", {"id": 1, "name": "Something"})], env)
    assert unknown.returncode == 2
    assert "cannot tell which ServiceTitan record" in unknown.stderr
    assert "Pass --entity invoice|payment|bill|customer|vendor." in unknown.stderr

    both = {**sample("payment.json"), "billAmount": "1.00"}
    ambiguous = run(["map", write(tmp_path, "both.json", both)], env)
    assert ambiguous.returncode == 2
    assert "looks like more than one kind of ServiceTitan record: payment (" in ambiguous.stderr
    assert "bill (billAmount)" in ambiguous.stderr

    page = {"hasMore": False, "continueFrom": "x", "data": [INVOICE_5001]}
    whole = run(["map", write(tmp_path, "page.json", page)], env)
    assert whole.returncode == 2
    assert "is a whole ServiceTitan page (1 record); pass one record" in whole.stderr

    (tmp_path / "broken.json").write_text("{not json")
    broken = run(["map", str(tmp_path / "broken.json")], env)
    assert broken.returncode == 2
    assert "is not JSON" in broken.stderr

    both_options = run(["map", "x.json", "--connection", "a", "--mapping", "m.yaml"], env)
    assert both_options.returncode == 2


def test_connection_needs_nats(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "i.json", INVOICE_5001), "--connection", "acme"], env)
    assert result.returncode == 2
    assert "start `mlconnector up`" in result.stderr


@pytest.mark.nats
def test_stored_connection_mapping_is_used(nats_url: str, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    added = run(
        [
            "connection",
            "add",
            "acme",
            "--tenant",
            "1234567",
            "--qbwc-user",
            "acme-qb",
            "--password-stdin",
        ],
        env,
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    mapping = tmp_path / "acme.yaml"
    mapping.write_text('item_map:\n  PVC-075: "Materials:PVC 3/4 in"\n')
    assert run(["connection", "mapping", "acme", str(mapping)], env).returncode == 0

    result = run(["map", write(tmp_path, "i.json", INVOICE_5001), "--connection", "acme"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "ServiceTitan invoice 5001 (event 1234567:invoice:5001:2025-03-14T22:00:01+00:00) "
        "with connection 'acme' (its stored mapping):"
    )
    (invoice,) = [b for b in blocks(result.stdout, "qbXML") if b.tag == "InvoiceAddRq"]
    items = [line.findtext("ItemRef/FullName") for line in invoice.iter("InvoiceLineAdd")]
    assert "Materials:PVC 3/4 in" in items

    missing = run(["map", write(tmp_path, "i.json", INVOICE_5001), "--connection", "x"], env)
    assert missing.returncode == 2
    assert missing.stderr == (
        "Error: there is no connection named 'x': `mlconnector connection list` shows them.\n"
    )


def adjustment_of_5001() -> dict[str, Any]:
    """ServiceTitan adjustment invoice 5101 to 5001: the PVC pipe returned (4 x 36.50 and
    its 8.25% tax), as the accounting export documents an invoice."""
    raw = copy.deepcopy(INVOICE_5001)
    pipe = next(item for item in raw["items"] if item["skuName"] == "PVC-075")
    pipe.update(id=61012, quantity="-4.00", total="-146.00")
    raw.update(
        id=5101,
        referenceNumber="5001-A",
        adjustmentToId=5001,
        items=[pipe],
        subTotal="-146.00",
        salesTax="-12.05",
        total="-158.05",
        balance="-158.05",
    )
    return raw


def test_adjustment_invoice_is_a_credit_memo_applied_to_its_invoice(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run(["map", write(tmp_path, "adjustment.json", adjustment_of_5001())], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2 QuickBooks requests, in send order." in out
    assert (
        "[1/2] CreditMemoAddRq\n  summary:    Credit memo 5001-A for Hernandez, Maria: 158.05\n"
        in out
    )
    assert "  expected:   subtotal 146.00, sales_tax 12.05, total 158.05" in out
    assert "  line keys:  61012\n" in out
    (memo,) = [b for b in blocks(out, "qbXML") if b.tag == "CreditMemoAddRq"]
    line = memo.find("CreditMemoAdd/CreditMemoLineAdd")
    assert line is not None
    assert (line.findtext("Quantity"), line.findtext("Rate"), line.findtext("Amount")) == (
        "4",
        "36.50",
        "146.00",
    )
    assert "[2/2] ReceivePaymentAddRq\n" in out
    assert "  requires:   [1/2] (done first)\n" in out
    assert "invoice 5001 (@ref:invoice:5001), invoice 5101 (@ref:invoice:5101)" in out
    (application,) = [b for b in blocks(out, "qbXML") if b.tag == "ReceivePaymentAddRq"]
    credit = application.find("ReceivePaymentAdd/AppliedToTxnAdd/SetCredit")
    assert credit is not None
    assert credit.findtext("CreditTxnID") == "@ref:invoice:5101"
    assert credit.findtext("AppliedAmount") == "158.05"
    mods = [b for title in mod_titles(out) for b in blocks(out, title)]
    assert [m.tag for m in mods] == ["CreditMemoModRq"]


def test_invoice_has_its_mod_form_with_lines_by_key(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["map", write(tmp_path, "invoice.json", INVOICE_5001)], env)
    assert result.returncode == 0, result.stderr
    assert "  line keys:  60011, 60012\n" in result.stdout
    (title,) = mod_titles(result.stdout)
    assert "each line's TxnLineID (-1 for a new line)" in title
    (mod,) = blocks(result.stdout, title)
    assert [m.findtext("TxnLineID") for m in mod.iter("InvoiceLineMod")] == [
        "@line:60011",
        "@line:60012",
    ]


def test_voided_invoice_and_deleted_payment(env: dict[str, str], tmp_path: Path) -> None:
    voided = {**INVOICE_5001, "active": False}
    result = run(["map", write(tmp_path, "invoice.json", voided)], env)
    assert result.returncode == 0, result.stderr
    assert "Note: ServiceTitan marks this record inactive (deleted or voided).\n" in result.stdout
    assert "[1/1] TxnVoidRq\n" in result.stdout
    assert "  action:     void (voided or deleted in ServiceTitan;" in result.stdout
    (void,) = blocks(result.stdout, "qbXML")
    assert (void.findtext("TxnVoidType"), void.findtext("TxnID")) == ("Invoice", "@self")

    deleted = {**sample("payment.json"), "active": False}
    flagged = run(["map", write(tmp_path, "payment.json", deleted)], env)
    assert flagged.returncode == 0, flagged.stderr
    assert "  action:     void, flagged for the accountant" in flagged.stdout
    assert blocks(flagged.stdout, "qbXML") == []
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("payment_void: delete\n")
    result = run(["map", write(tmp_path, "payment.json", deleted), "--mapping", str(mapping)], env)
    (delete,) = blocks(result.stdout, "qbXML")
    assert (delete.tag, delete.findtext("TxnDelType")) == ("TxnDelRq", "ReceivePayment")


def test_a_payment_deleted_while_pending_is_noted(env: dict[str, str], tmp_path: Path) -> None:
    """Demo payment 9005: entered twice by mistake and deleted before any batch posted it."""
    (duplicate,) = [p for p in seed_data("demo")["payments"] if p["id"] == 9005]
    result = run(["map", write(tmp_path, "payment.json", duplicate)], env)
    assert result.returncode == 0, result.stderr
    assert (
        "Note: It was deleted while Pending, before it was posted in a ServiceTitan batch: "
        "st-ingest would not publish it (nothing reached QuickBooks to void).\n"
    ) in result.stdout
    assert "  action:     void, flagged for the accountant" in result.stdout
