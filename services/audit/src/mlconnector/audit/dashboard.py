"""The server-rendered pages: the records dashboard and one record's trail.

No external assets; every value goes through html.escape.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlencode

STATUSES = ("pending", "posted", "failed", "waiting", "retrying", "rejected", "changed")
COLOURS = {
    "pending": "#9e9e9e",
    "posted": "#2e7d32",
    "failed": "#c62828",
    "waiting": "#ef6c00",
    "retrying": "#1565c0",
    # Not "failed" red: nothing reached QuickBooks; ServiceTitan's data must be fixed.
    "rejected": "#6a1b9a",
    # Posted, then changed in ServiceTitan: the accountant reconciles it in QuickBooks.
    "changed": "#6d4c41",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
.st{color:#fff;border-radius:.6rem;padding:.1rem .5rem;font-size:.8rem}
pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;white-space:pre-wrap;font-size:.8rem}
form input,form select{margin-right:.5rem}.hint{color:#555;font-style:italic}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _badge(status: str) -> str:
    colour = COLOURS.get(status, "#616161")
    return f'<span class="st" style="background:{colour}">{_e(status)}</span>'


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _or_dash(value: object) -> object:
    return "-" if value is None else value


def _summary_text(summary: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in summary.items())


def render_dashboard(rows: list[dict[str, Any]], filters: dict[str, str]) -> str:
    options = "".join(
        f"<option value='{_e(s)}'{' selected' if filters['status'] == s else ''}>{_e(s)}</option>"
        for s in ("", *STATUSES)
    )
    form = (
        "<form method='get' action='/'>"
        f"connection <input name='connection' value='{_e(filters['connection'])}'>"
        f"entity <input name='entity' value='{_e(filters['entity'])}'>"
        f"ServiceTitan id <input name='st_id' value='{_e(filters['st_id'])}' size='10'>"
        f"status <select name='status'>{options}</select>"
        "<button type='submit'>Filter</button></form>"
    )
    body_rows = "".join(
        "<tr>"
        f"<td><a href='/records/{row['id']}'>{row['id']}</a></td>"
        f"<td>{_e(row['connection'] or '-')}</td><td>{_e(row['tenant'])}</td>"
        f"<td>{_e(row['entity'])}</td><td>{_e(_or_dash(row['st_id']))}</td>"
        f"<td>{_e(_summary_text(row['summary']))}</td><td>{_badge(row['status'])}</td>"
        f"<td>{_e(row['qb_id'] or '')}</td>"
        f"<td>{_e(row['message'] or '')}"
        f"{'<div class=hint>' + _e(row['hint']) + '</div>' if row['hint'] else ''}</td>"
        f"<td>{_e(row['updated_at'])}</td></tr>"
        for row in rows
    )
    table = (
        "<table><tr><th>#</th><th>connection</th><th>tenant</th><th>entity</th>"
        "<th>ServiceTitan id</th><th>summary</th><th>status</th><th>QuickBooks id</th>"
        f"<th>message</th><th>updated</th></tr>{body_rows}</table>"
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    tally = " ".join(f"{_badge(s)} {n}" for s, n in sorted(counts.items()))
    api = "/api/records?" + urlencode({k: v for k, v in filters.items() if v})
    return _page(
        "ml-connector audit",
        f"<h1>ml-connector audit</h1>{form}<p>{tally}"
        f" &middot; <a href='{_e(api)}'>JSON</a></p>{table}",
    )


def _difference_table(difference: dict[str, list[str | None]] | None) -> str:
    """A "changed" outcome: what differs between the posted version and ServiceTitan's."""
    if not difference:
        return ""
    rows = "".join(
        f"<tr><td>{_e(label)}</td><td>{_e(_or_dash(old))}</td><td>{_e(_or_dash(new))}</td></tr>"
        for label, (old, new) in difference.items()
    )
    return (
        "<table class='difference'><tr><th></th><th>in QuickBooks (as posted)</th>"
        f"<th>in ServiceTitan now</th></tr>{rows}</table>"
    )


def render_trail(found: dict[str, Any]) -> str:
    record = found["record"]
    parts = [
        f"<p><a href='/'>&larr; all records</a></p><h1>{_e(record['entity'])} "
        f"{_e(record['st_id'] if record['st_id'] is not None else '(id unreadable)')} "
        f"{_badge(record['status'])}</h1>",
        f"<p>tenant {_e(record['tenant'])} &middot; connection "
        f"{_e(record['connection'] or '-')} &middot; QuickBooks id "
        f"{_e(record['qb_id'] or '-')} &middot; {_e(_summary_text(record['summary']))}</p>",
    ]
    if record["message"]:
        parts.append(f"<p><b>{_e(record['message'])}</b></p>")
    if record["hint"]:
        parts.append(f"<p class='hint'>{_e(record['hint'])}</p>")
    for item in found["trail"]:
        if item["kind"] == "event":
            parts.append(
                f"<h3>{_e(item['at'])} event {_e(item['msg_id'])} ({_e(item['source'])})</h3>"
            )
        elif item["kind"] == "rejection":
            parts.append(
                f"<h3>{_e(item['at'])} rejected {_badge('rejected')}</h3>"
                f"<p>{_e(item['error'])}</p>"
                f"<div>ServiceTitan JSON</div><pre>{_e(json.dumps(item['raw'], indent=2))}</pre>"
            )
        elif item["kind"] == "command":
            parts.append(
                f"<h3>{_e(item['at'])} command {_e(item['command_id'])} "
                f"{_e(item['request_type'])}</h3><pre>{_e(item['qbxml'])}</pre>"
            )
            if item["lookup_qbxml"]:
                parts.append(f"<div>lookup</div><pre>{_e(item['lookup_qbxml'])}</pre>")
        else:
            code = "" if item["status_code"] is None else f" status {item['status_code']}"
            parts.append(
                f"<h3>{_e(item['at'])} outcome #{_e(item['attempt'])} "
                f"{_badge(item['status'])}{_e(code)} {_e(item['qb_id'] or '')}</h3>"
                f"<p>{_e(item['status_message'] or '')}</p>"
                + (f"<p class='hint'>{_e(item['hint'])}</p>" if item["hint"] else "")
                + _difference_table(item.get("difference"))
                + (f"<pre>{_e(item['request_qbxml'])}</pre>" if item["request_qbxml"] else "")
                + (f"<pre>{_e(item['response_qbxml'])}</pre>" if item["response_qbxml"] else "")
            )
    return _page(f"record {record['id']}", "".join(parts))
