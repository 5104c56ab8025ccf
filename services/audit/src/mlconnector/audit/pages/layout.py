"""What every page shares: the frame, status badges and words, amounts, escaping."""

from __future__ import annotations

import html
from decimal import Decimal
from urllib.parse import urlencode

STATUS_WORDS = {
    "pending": "pending",
    "posted": "posted",
    "failed": "failed",
    "waiting": "waiting",
    "retrying": "retrying",
    "rejected": "rejected",
    "changed": "changed after posting",
    "superseded": "superseded",
    "voided": "voided",
    "differs": "amount differs",
}
COLOURS = {
    "pending": "#757575",
    "posted": "#2e7d32",
    "failed": "#c62828",
    "waiting": "#ef6c00",
    "retrying": "#1565c0",
    # Not "failed" red: nothing reached QuickBooks; ServiceTitan's data must be fixed.
    "rejected": "#6a1b9a",
    # Posted, then changed in ServiceTitan: the accountant reconciles it in QuickBooks.
    "changed": "#6d4c41",
    "superseded": "#546e7a",
    "voided": "#37474f",
    "differs": "#ad1457",
}
# What a status means for the office, in a sentence (shown where nothing more specific is).
STATUS_HELP = {
    "pending": "On its way: it is sent to QuickBooks the next time the Web Connector calls.",
    "waiting": "Waits for a record it needs (a customer, vendor or invoice) to reach "
    "QuickBooks first; nothing to do unless that one failed.",
    "retrying": "QuickBooks was busy or closed; it is tried again at the next call.",
    "superseded": "A newer version of this record was sent instead; nothing to do.",
    "voided": "Voided in QuickBooks to follow ServiceTitan; nothing to do.",
    "rejected": "ServiceTitan sent something ml-connector cannot read; fix the record in "
    "ServiceTitan and it comes again by itself.",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2rem 1.5rem;color:#222}
a{color:#0d47a1}h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
nav a{margin-right:1rem}
table{border-collapse:collapse;width:100%}
table.amounts,table.difference{width:auto;min-width:24rem}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.st{color:#fff;border-radius:.6rem;padding:.1rem .5rem;font-size:.8rem;white-space:nowrap}
pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;font-size:.8rem}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:.6rem 0}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#444}
.hint{color:#555}.empty{padding:1.5rem;background:#f5f5f5;text-align:center;font-size:1rem}
.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:.4rem .6rem;margin:.3rem 0}
.bad{color:#c62828}.ok{color:#2e7d32}.notice{background:#e3f2fd;padding:.5rem .7rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:.4rem 0 .8rem}
.card{border:1px solid #ddd;border-radius:.4rem;padding:.6rem .8rem;min-width:18rem;flex:1}
.pager{margin:.6rem 0}.pager a,.pager span{margin-right:1rem}
.tally a{margin-right:.8rem;text-decoration:none}
ol.timeline{list-style:none;padding:0;border-left:3px solid #ddd;margin-left:.5rem}
ol.timeline li{margin:0 0 1rem 0;padding-left:1rem;position:relative}
ol.timeline li:before{content:"";position:absolute;left:-.5rem;top:.35rem;width:.7rem;
height:.7rem;border-radius:50%;background:#9e9e9e}
.when{color:#555;font-size:.85rem}details{margin:.2rem 0}summary{cursor:pointer;color:#0d47a1}
button{cursor:pointer}
"""


def e(value: object) -> str:
    """HTML-escaped text ('' for None)."""
    return html.escape("" if value is None else str(value))


def badge(status: str) -> str:
    """A status in its colour and words ("differs" reads "amount differs")."""
    colour = COLOURS.get(status, "#616161")
    word = STATUS_WORDS.get(status, status)
    return f'<span class="st" style="background:{colour}">{e(word)}</span>'


def money(amount: str | Decimal | None) -> str:
    """'1,234.56' for '1234.56'; '' for None."""
    if amount is None or amount == "":
        return ""
    return f"{Decimal(str(amount)):,.2f}"


def link(path: str, params: dict[str, str]) -> str:
    """`path?query` without empty parameters."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def page(title: str, body: str) -> str:
    """A whole HTML page around `body` (already escaped), with the navigation."""
    nav = (
        "<nav><a href='/'>Records</a><a href='/?status=failed'>Failed</a>"
        "<a href='/reconcile'>Reconciliation</a></nav>"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>{nav}{body}</body></html>"
    )
