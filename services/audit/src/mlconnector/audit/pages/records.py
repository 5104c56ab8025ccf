"""The dashboard's front page: connection health, filters as choices, a page of records with
their amounts, dates, customer and reference, paging with totals, CSV and retry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlconnector.audit.filters import ENTITIES, STATUSES, RecordFilter
from mlconnector.audit.pages.layout import (
    STATUS_WORDS,
    badge,
    e,
    link,
    money,
    page,
)

ENTITY_WORDS = {
    "invoice": "Invoices",
    "payment": "Payments",
    "bill": "Bills",
    "customer": "Customers",
    "vendor": "Vendors",
}
PAGE_SIZES = (25, 50, 100, 200)


@dataclass
class RecordsPage:
    """What the front page shows (rows as queries.record_json, plus `updated_local`)."""

    filters: RecordFilter
    rows: list[dict[str, Any]]
    total: int
    tally: dict[str, int]
    offset: int
    limit: int
    connections: list[str]
    health: list[dict[str, Any]]
    notice: str | None = None


def _select(name: str, label: str, current: str | None, choices: list[tuple[str, str]]) -> str:
    options = "".join(
        f"<option value='{e(value)}'{' selected' if (current or '') == value else ''}>"
        f"{e(text)}</option>"
        for value, text in choices
    )
    return f"<label>{e(label)}<select name='{name}'>{options}</select></label>"


def _filter_form(view: RecordsPage) -> str:
    f = view.filters
    connections = [("", "all connections"), *((c, c) for c in view.connections)]
    entities = [("", "all types"), *((x, ENTITY_WORDS[x]) for x in ENTITIES)]
    statuses = [("", "any status"), *((s, STATUS_WORDS[s]) for s in STATUSES)]
    sizes = [(str(n), f"{n} a page") for n in PAGE_SIZES]
    return (
        "<form class='filters' method='get' action='/'>"
        + _select("connection", "Connection", f.connection, connections)
        + _select("entity", "Type", f.entity, entities)
        + _select("status", "Status", f.status, statuses)
        + f"<label>Date from<input type='date' name='date_from' "
        f"value='{e(f.date_from.isoformat() if f.date_from else '')}'></label>"
        f"<label>Date to<input type='date' name='date_to' "
        f"value='{e(f.date_to.isoformat() if f.date_to else '')}'></label>"
        f"<label>Customer, vendor or reference<input type='search' name='q' "
        f"value='{e(f.q or '')}' placeholder='e.g. Hernandez or 5001'></label>"
        + _select("limit", "Show", str(view.limit), sizes)
        + "<button type='submit'>Filter</button> <a href='/'>Clear</a></form>"
    )


def _health_cards(health: list[dict[str, Any]]) -> str:
    if not health:
        return ""
    cards = []
    for h in health:
        contact = h["last_contact"]
        if contact is None:
            seen = "<span class='bad'>never</span>"
        else:
            css = "bad" if contact["result"] in ("error", "refused") else "ok"
            seen = (
                f"{e(contact['ago'])} ({e(contact['at_local'])}): "
                f"<span class='{css}'>{e(contact['result_text'])}</span>"
            )
        counts = h["counts"]
        failed_link = link("/", {"connection": h["connection"], "status": "failed"})
        waiting_link = link("/", {"connection": h["connection"], "status": "waiting"})
        pending_link = link("/", {"connection": h["connection"], "status": "pending"})
        parts = [
            f"<div class='card health' data-connection='{e(h['connection'])}'>"
            f"<b>{e(h['connection'])}</b>",
            f"<div>Web Connector last called: {seen}</div>",
            f"<div><a href='{e(pending_link)}'>{counts['pending']} pending</a> &middot; "
            f"<a href='{e(waiting_link)}'>{counts['waiting']} waiting</a> &middot; "
            f"<a class='{'bad' if counts['failed'] else ''}' href='{e(failed_link)}'>"
            f"{counts['failed']} failed</a></div>",
        ]
        if h["last_error"]:
            err = h["last_error"]
            parts.append(
                f"<div class='hint'>Last error ({e(err['at_local'])}): {e(err['text'])}</div>"
            )
        parts.extend(f"<div class='warn'>{e(w)}</div>" for w in h["warnings"])
        parts.append("</div>")
        cards.append("".join(parts))
    return f"<div class='cards'>{''.join(cards)}</div>"


def _status_cell(row: dict[str, Any]) -> str:
    cell = badge(row["status"])
    if row["status"] == "differs":
        cell += (
            f"<div class='hint'>ServiceTitan {e(money(row['qb_expected'] or row['amount']))}"
            f" &middot; QuickBooks {e(money(row['qb_amount']))}</div>"
        )
    elif row["message"]:
        cell += f"<div>{e(row['message'])}</div>"
    if row["hint"]:
        cell += f"<div class='hint'>{e(row['hint'])}</div>"
    return cell


def _retry_button(row: dict[str, Any]) -> str:
    if row["status"] != "failed":
        return ""
    return (
        f"<form method='post' action='/records/{row['id']}/retry'>"
        "<button type='submit' class='retry'>Retry</button></form>"
    )


def _table(view: RecordsPage) -> str:
    body = "".join(
        f"<tr data-id='{row['id']}'>"
        f"<td>{e(row['date'] or '')}</td>"
        f"<td>{e(row['entity'])}</td>"
        f"<td><a href='/records/{row['id']}'>{e(row['reference'] or row['st_id'] or '?')}"
        "</a></td>"
        f"<td>{e(row['party'] or '')}</td>"
        f"<td class='num'>{e(money(row['amount']))}</td>"
        f"<td>{_status_cell(row)}</td>"
        f"<td>{e(row['qb_id'] or '')}</td>"
        f"<td>{e(row['connection'] or '')}</td>"
        f"<td>{e(row['st_id'] if row['st_id'] is not None else '')}</td>"
        f"<td class='when'>{e(row['updated_local'])}</td>"
        f"<td>{_retry_button(row)}</td></tr>"
        for row in view.rows
    )
    return (
        "<table class='records'><thead><tr><th>Date</th><th>Type</th><th>Reference</th>"
        "<th>Customer / vendor</th><th class='num'>Amount</th><th>Status</th>"
        "<th>QuickBooks id</th><th>Connection</th><th>ServiceTitan id</th><th>Updated</th>"
        f"<th></th></tr></thead><tbody>{body}</tbody></table>"
    )


def _empty_text(f: RecordFilter) -> str:
    what = ENTITY_WORDS[f.entity].lower() if f.entity else "records"
    if f.status:
        return f"No {STATUS_WORDS[f.status]} {what}" + (
            " match these filters." if f.with_status(None).params() else "."
        )
    return f"No {what} match these filters." if not f.is_empty else "No records yet."


def _pager(view: RecordsPage, here: Callable[[dict[str, str]], str]) -> str:
    if view.total == 0:
        return ""
    first = view.offset + 1
    last = min(view.offset + view.limit, view.total)
    pages = (view.total + view.limit - 1) // view.limit
    current = view.offset // view.limit + 1
    parts = [f"<span class='range'>{first:,}&ndash;{last:,} of {view.total:,}</span>"]
    if view.offset > 0:
        prev_offset = max(0, view.offset - view.limit)
        parts.append(
            f"<a rel='prev' href='{e(here({'offset': str(prev_offset)}))}'>&larr; newer</a>"
        )
    parts.append(f"<span>page {current:,} of {pages:,}</span>")
    if last < view.total:
        parts.append(
            f"<a rel='next' href='{e(here({'offset': str(view.offset + view.limit)}))}'>"
            "older &rarr;</a>"
        )
    return f"<div class='pager'>{''.join(parts)}</div>"


def render_records(view: RecordsPage) -> str:
    """The front page's HTML."""
    f = view.filters
    base = {**f.params(), "limit": str(view.limit)}

    def here(extra: dict[str, str]) -> str:
        return link("/", {**base, **extra})

    tally = "".join(
        f"<a href='{e(link('/', {**f.with_status(s).params(), 'limit': str(view.limit)}))}'>"
        f"{badge(s)} {view.tally[s]:,}</a>"
        for s in STATUSES
        if view.tally.get(s)
    )
    failed_here = view.tally.get("failed", 0) if f.status in (None, "failed") else 0
    actions = [
        f"<a href='{e(link('/records.csv', f.params()))}'>Download CSV</a>",
        f"<a href='{e(link('/api/records', {**f.params(), 'limit': str(view.limit)}))}'>JSON</a>",
    ]
    if failed_here:
        hidden = "".join(
            f"<input type='hidden' name='{e(k)}' value='{e(v)}'>"
            for k, v in f.with_status("failed").params().items()
        )
        actions.append(
            "<form method='post' action='/records/retry-failed' style='display:inline'>"
            f"{hidden}<button type='submit' class='retry-all'>Retry all {failed_here:,} "
            "failed in this filter</button></form>"
        )
    notice = f"<p class='notice'>{e(view.notice)}</p>" if view.notice else ""
    listing = (
        _table(view) + _pager(view, here)
        if view.rows
        else f"<p class='empty'>{e(_empty_text(f))}</p>"
    )
    return page(
        "ml-connector audit",
        "<h1>ml-connector audit</h1>"
        + notice
        + _health_cards(view.health)
        + _filter_form(view)
        + f"<p class='tally'>{tally}</p>"
        + f"<p class='actions'>{' &middot; '.join(actions)}</p>"
        + _pager(view, here)
        + listing,
    )
