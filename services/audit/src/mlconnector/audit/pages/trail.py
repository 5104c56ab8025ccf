"""One record's page: what it is, what to do about it, and a timeline of what happened (each
step in local time, QuickBooks' answer in words, the qbXML pretty-printed and folded)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mlconnector.audit.localtime import local
from mlconnector.audit.pages.layout import STATUS_HELP, badge, e, money, page
from mlconnector.audit.qbxml_view import pretty_qbxml

AMOUNT_LABELS = {
    "subtotal": "subtotal",
    "sales_tax": "sales tax",
    "total": "total",
    "balance": "balance",
}
SOURCES = {
    "export": "from ServiceTitan's export feed",
    "webhook": "from a ServiceTitan webhook",
    "list": "from ServiceTitan's list",
    "replay": "replayed from the stream",
    "retry": "sent again by a retry",
    "backfill": "from a backfill",
}
REQUEST_WORDS = {
    "InvoiceAddRq": "add the invoice",
    "CreditMemoAddRq": "add a credit memo",
    "ReceivePaymentAddRq": "add the payment",
    "BillAddRq": "add the bill",
    "CustomerAddRq": "add the customer",
    "CustomerModRq": "update the customer",
    "VendorAddRq": "add the vendor",
    "VendorModRq": "update the vendor",
    "TxnVoidRq": "void it",
    "TxnDelRq": "delete it",
    "ItemServiceAddRq": "add an item it needs",
    "ItemOtherChargeAddRq": "add an item it needs",
    "map": "map it",
}
OUTCOME_WORDS = {
    "posted": "QuickBooks posted it",
    "failed": "QuickBooks refused it",
    "waiting": "Waiting for a record it needs",
    "retrying": "QuickBooks was busy or closed; trying again at the next call",
    "changed": "Changed in ServiceTitan after posting; left for the accountant",
    "superseded": "Superseded by a newer version; not sent",
    "voided": "Voided in QuickBooks",
    "differs": "Posted, but QuickBooks computed other amounts",
}


def _folded(title: str, text: str | None, *, xml: bool = True) -> str:
    if not text:
        return ""
    shown = pretty_qbxml(text) if xml else text
    return f"<details><summary>{e(title)}</summary><pre>{e(shown)}</pre></details>"


def differs_advice(expected: str | None, qb: str | None) -> str:
    """What the office does about an amount QuickBooks computed differently."""
    return (
        f"ServiceTitan says {money(expected)}, QuickBooks computed {money(qb)}. Usually the "
        "sales tax item's rate in QuickBooks differs from ServiceTitan's: correct the rate (or "
        "the mapping's tax settings), then edit the transaction in QuickBooks to match "
        "ServiceTitan. ml-connector does not post it again."
    )


def _amounts_table(amounts: dict[str, str] | None, expected: dict[str, str] | None) -> str:
    if not amounts and not expected:
        return ""
    names = [n for n in AMOUNT_LABELS if n in (amounts or {}) or n in (expected or {})]
    names += sorted((set(amounts or {}) | set(expected or {})) - set(names))
    rows = []
    for name in names:
        st = (expected or {}).get(name)
        qb = (amounts or {}).get(name)
        mark = " class='bad'" if st is not None and qb is not None and st != qb else ""
        rows.append(
            f"<tr{mark}><td>{e(AMOUNT_LABELS.get(name, name))}</td>"
            f"<td class='num'>{e(money(st))}</td><td class='num'>{e(money(qb))}</td></tr>"
        )
    return (
        "<table class='amounts'><tr><th></th><th class='num'>ServiceTitan</th>"
        f"<th class='num'>QuickBooks</th></tr>{''.join(rows)}</table>"
    )


def _difference_table(difference: dict[str, list[str | None]] | None) -> str:
    """A "changed" outcome: what differs between the posted version and ServiceTitan's."""
    if not difference:
        return ""
    rows = "".join(
        f"<tr><td>{e(label)}</td><td>{e(old if old is not None else '-')}</td>"
        f"<td>{e(new if new is not None else '-')}</td></tr>"
        for label, (old, new) in difference.items()
    )
    return (
        "<table class='difference'><tr><th></th><th>in QuickBooks (as posted)</th>"
        f"<th>in ServiceTitan now</th></tr>{rows}</table>"
    )


def _step(at: str, zone: str, what: str, body: str = "") -> str:
    when = local(dt.datetime.fromisoformat(at), zone)
    return f"<li><div class='when'>{e(when)}</div><div class='what'>{what}</div>{body}</li>"


def _event_step(item: dict[str, Any], zone: str) -> str:
    source = SOURCES.get(item["source"], item["source"])
    title = "Retry requested" if item["source"] == "retry" else "Received"
    raw = json.dumps((item["raw"] or {}).get("raw", item["raw"]), indent=2)
    return _step(
        item["at"],
        zone,
        f"<b>{e(title)}</b> {e(source)} (version {e(item['version'])})",
        _folded("ServiceTitan's record", raw, xml=False),
    )


def _command_step(item: dict[str, Any], zone: str) -> str:
    words = REQUEST_WORDS.get(item["request_type"], item["request_type"])
    again = " (retry)" if item.get("generation") else ""
    return _step(
        item["at"],
        zone,
        f"<b>Queued for QuickBooks</b>: {e(words)}{e(again)}",
        _folded(f"qbXML to send ({item['request_type']})", item["qbxml"])
        + _folded("lookup before sending again", item["lookup_qbxml"]),
    )


def _outcome_step(item: dict[str, Any], zone: str) -> str:
    status = item["status"]
    words = OUTCOME_WORDS.get(status, status)
    if item.get("prerequisite"):
        words = f"{words} (something the record needs)"
    code = item["status_code"]
    answer = ""
    if item["status_message"] or code not in (None, 0):
        answer = (
            "<div class='answer'>QuickBooks' answer: "
            + (f"status {e(code)} " if code is not None else "")
            + f"&ldquo;{e(item['status_message'] or '')}&rdquo;</div>"
        )
    qb_id = f" &middot; QuickBooks id {e(item['qb_id'])}" if item["qb_id"] else ""
    body = answer
    if item["hint"]:
        body += f"<div class='hint'>What to do: {e(item['hint'])}</div>"
    if status == "differs":
        body += _amounts_table(item["amounts"], item["expected"])
        body += (
            "<div class='hint'>What to do: "
            + e(
                differs_advice(
                    (item["expected"] or {}).get("total"), (item["amounts"] or {}).get("total")
                )
            )
            + "</div>"
        )
    elif item["amounts"]:
        body += _amounts_table(item["amounts"], item["expected"])
    body += _difference_table(item.get("difference"))
    body += _folded("qbXML sent", item["request_qbxml"])
    body += _folded("QuickBooks' answer (qbXML)", item["response_qbxml"])
    return _step(
        item["at"],
        zone,
        f"{badge(status)} <b>{e(words)}</b> (attempt {e(item['attempt'])}){qb_id}",
        body,
    )


def _rejection_step(item: dict[str, Any], zone: str) -> str:
    return _step(
        item["at"],
        zone,
        f"{badge('rejected')} <b>Could not be read</b>: {e(item['error'])}",
        _folded("ServiceTitan's record", json.dumps(item["raw"], indent=2), xml=False),
    )


WRITEBACK_WORDS = {
    "mark_exported": "Marked exported in ServiceTitan",
    "payment_status": "Set to Exported in ServiceTitan",
    "update": "QuickBooks' change written to ServiceTitan",
    "create": "Added to ServiceTitan from QuickBooks",
}


def _writeback_step(item: dict[str, Any], zone: str) -> str:
    words = WRITEBACK_WORDS.get(item["action"], item["action"])
    if item["status"] == "done":
        head = f"<b>{e(words)}</b>"
        body = f"<div>QuickBooks id {e(item['qb_id'])}</div>" if item["qb_id"] else ""
    else:
        verdict = "refused; trying again" if item["status"] == "retrying" else "gave up"
        head = (
            f"<b>{e(words)}: ServiceTitan {verdict}</b> "
            f"(attempt {e(item['attempt'])} of {e(item['max_attempts'])})"
        )
        body = f"<div>{e(item['error'] or '')}</div>"
    return _step(item["at"], zone, head, body)


def render_trail(found: dict[str, Any], zone: str, notice: str | None = None) -> str:
    """One record's page (`found`: RecordQueries.trail; times shown in `zone`)."""
    record = found["record"]
    name = record["reference"] or record["party"] or record["st_id"] or "(id unreadable)"
    heading = f"{record['entity'].capitalize()} {name}"
    facts = [
        f"ServiceTitan id {record['st_id'] if record['st_id'] is not None else '(unreadable)'}",
        f"connection {record['connection'] or '(none yet)'}",
    ]
    if record["party"] and record["party"] != name:
        facts.insert(0, record["party"])
    if record["date"]:
        facts.append(f"date {record['date']}")
    if record["amount"] is not None:
        facts.append(f"amount {money(record['amount'])}")
    facts.append(f"QuickBooks id {record['qb_id'] or '-'}")
    parts = [
        "<p><a href='/'>&larr; all records</a></p>",
        f"<h1>{e(heading)} {badge(record['status'])}</h1>",
        f"<p class='facts'>{' &middot; '.join(e(f) for f in facts)}</p>",
    ]
    if notice:
        parts.append(f"<p class='notice'>{e(notice)}</p>")
    status = record["status"]
    todo: list[str] = []
    if status == "differs":
        todo.append(
            e(differs_advice(record["qb_expected"] or record["amount"], record["qb_amount"]))
        )
    else:
        if record["message"]:
            todo.append(f"<b>{e(record['message'])}</b>")
        if record["hint"]:
            todo.append(f"What to do: {e(record['hint'])}")
        elif status in STATUS_HELP:
            todo.append(e(STATUS_HELP[status]))
    if status == "failed":
        todo.append(
            f"<form method='post' action='/records/{record['id']}/retry'>"
            "<button type='submit' class='retry'>Retry with the current mapping</button></form>"
        )
    if todo:
        parts.append(f"<div class='todo'>{''.join(f'<p>{t}</p>' for t in todo)}</div>")
    steps = []
    for item in found["trail"]:
        kind = item["kind"]
        if kind == "event":
            steps.append(_event_step(item, zone))
        elif kind == "rejection":
            steps.append(_rejection_step(item, zone))
        elif kind == "command":
            steps.append(_command_step(item, zone))
        elif kind == "writeback":
            steps.append(_writeback_step(item, zone))
        else:
            steps.append(_outcome_step(item, zone))
    parts.append(f"<h2>What happened</h2><ol class='timeline'>{''.join(steps)}</ol>")
    return page(f"{heading} - ml-connector audit", "".join(parts))
