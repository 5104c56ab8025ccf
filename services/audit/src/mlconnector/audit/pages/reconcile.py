"""The reconciliation page: per entity, ServiceTitan's count and total against what QuickBooks
confirmed, per day over a range, and one click away the records that make up a difference."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlconnector.audit.pages.layout import badge, e, link, money, page
from mlconnector.audit.pages.records import ENTITY_WORDS


def _form(connection: str | None, connections: list[str], start: dt.date, end: dt.date) -> str:
    options = "".join(
        f"<option value='{e(c)}'{' selected' if c == connection else ''}>{e(c)}</option>"
        for c in connections
    )
    return (
        "<form class='filters' method='get' action='/reconcile'>"
        f"<label>Connection<select name='connection'>{options}</select></label>"
        f"<label>From<input type='date' name='date_from' value='{start.isoformat()}'></label>"
        f"<label>To<input type='date' name='date_to' value='{end.isoformat()}'></label>"
        "<button type='submit'>Reconcile</button></form>"
    )


def _figures_row(label: str, figures: dict[str, Any], records_link: str | None) -> str:
    state = (
        "<span class='ok'>matches</span>"
        if figures["matches"]
        else "<span class='bad'>difference</span>"
    )
    unread = (
        f"<div class='hint'>{figures['not_read_back']} without a QuickBooks read-back "
        "(counted as sent)</div>"
        if figures["not_read_back"]
        else ""
    )
    see = f"<a href='{e(records_link)}'>see records</a>" if records_link else ""
    return (
        f"<tr class='{'match' if figures['matches'] else 'differs'}'><td>{e(label)}</td>"
        f"<td class='num'>{figures['st_count']:,}</td>"
        f"<td class='num'>{e(money(figures['st_total']))}</td>"
        f"<td class='num'>{figures['qb_count']:,}</td>"
        f"<td class='num'>{e(money(figures['qb_total']))}{unread}</td>"
        f"<td class='num'>{figures['difference_count']:,}</td>"
        f"<td class='num'>{e(money(figures['difference_total']))}</td>"
        f"<td>{state}</td><td>{see}</td></tr>"
    )


_HEAD = (
    "<tr><th></th><th class='num'>ServiceTitan</th><th class='num'>ServiceTitan total</th>"
    "<th class='num'>In QuickBooks</th><th class='num'>QuickBooks total</th>"
    "<th class='num'>Count difference</th><th class='num'>Difference</th><th></th><th></th></tr>"
)


def render_reconcile(
    result: dict[str, Any] | None,
    connections: list[str],
    connection: str | None,
    start: dt.date,
    end: dt.date,
    entity: str | None,
    records: list[dict[str, Any]] | None,
    show_all: bool,
    notice: str | None = None,
) -> str:
    """The reconciliation page (`result`: Reconciliation.json; `records`: the records behind
    `entity`'s figures, when one is chosen)."""
    parts = ["<h1>Reconciliation</h1>"]
    if notice:
        parts.append(f"<p class='notice'>{e(notice)}</p>")
    if not connections:
        parts.append("<p class='empty'>No connection has records yet.</p>")
        return page("Reconciliation - ml-connector audit", "".join(parts))
    parts.append(_form(connection, connections, start, end))
    if result is None:
        return page("Reconciliation - ml-connector audit", "".join(parts))
    base = {
        "connection": result["connection"],
        "date_from": result["date_from"],
        "date_to": result["date_to"],
    }
    span = (
        result["date_from"]
        if result["date_from"] == result["date_to"]
        else f"{result['date_from']} to {result['date_to']}"
    )
    verdict = (
        "<p class='ok'>ServiceTitan and QuickBooks agree.</p>"
        if result["matches"]
        else "<p class='bad'>ServiceTitan and QuickBooks differ: open the records below.</p>"
    )
    rows = "".join(
        _figures_row(
            ENTITY_WORDS[f["entity"]],
            f,
            link("/reconcile", {**base, "entity": f["entity"]}),
        )
        for f in result["entities"]
    )
    parts.append(
        f"<h2>{e(result['connection'])}, {e(span)}</h2>{verdict}"
        f"<table class='reconcile'>{_HEAD}{rows}</table>"
        f"<p><a href='{e(link('/reconcile.csv', base))}'>Download CSV</a></p>"
    )
    if len(result["days"]) > 1:
        day_rows = "".join(
            _figures_row(f"{day['date']} {ENTITY_WORDS[f['entity']].lower()}", f, None)
            for day in result["days"]
            for f in day["entities"]
            if f["st_count"] or f["qb_count"]
        )
        parts.append(f"<h2>By day</h2><table class='by-day'>{_HEAD}{day_rows}</table>")
    if entity is not None and records is not None:
        toggle = (
            f"<a href='{e(link('/reconcile', {**base, 'entity': entity}))}'>only differences</a>"
            if show_all
            else f"<a href='{e(link('/reconcile', {**base, 'entity': entity, 'all': '1'}))}'>"
            "all records</a>"
        )
        title = f"{ENTITY_WORDS[entity]} {'' if show_all else 'that make up the difference'}"
        if records:
            body = "".join(
                f"<tr data-id='{r['id']}'><td>{e(r['date'])}</td>"
                f"<td><a href='/records/{r['id']}'>{e(r['reference'] or r['st_id'])}</a></td>"
                f"<td>{e(r['party'] or '')}</td>"
                f"<td class='num'>{e(money(r['amount']))}</td>"
                f"<td class='num'>{e(money(r['qb_amount']))}</td>"
                f"<td class='num'>{e(money(r['difference']))}</td>"
                f"<td>{e(r['reason'] or 'matches')}</td><td>{badge(r['status'])}</td></tr>"
                for r in records
            )
            table = (
                "<table class='reconcile-records'><tr><th>Date</th><th>Reference</th>"
                "<th>Customer / vendor</th><th class='num'>ServiceTitan</th>"
                "<th class='num'>QuickBooks</th><th class='num'>Difference</th><th>Why</th>"
                f"<th>Status</th></tr>{body}</table>"
            )
        else:
            table = f"<p class='empty'>No {ENTITY_WORDS[entity].lower()} differ.</p>"
        parts.append(f"<h2 id='records'>{e(title.strip())}</h2><p>{toggle}</p>{table}")
    return page("Reconciliation - ml-connector audit", "".join(parts))
