"""clientVersion's answer: "" (go ahead), "W:<text>" (warn, the user may continue) or
"E:<text>" (refuse: the user must install a newer Web Connector). QBWC Programmer's Guide v2.0,
and Intuit's WCWebService sample (clientVersion: "W:" offers the choice, "E:" aborts the
update and asks for a new QBWC).

Which builds, and why:

- 1.x: refused. The features this gateway relies on came with QBWC 2.0 (Programmer's Guide
  v2.0, "What's New in This Release"): the update lock that keeps two Web Connectors from
  updating one company file at once, "NoOp" from getLastError, and passwords kept by .NET's
  managed password storage. A session from 1.x can interleave with another client's and post
  twice, which this product promises never to do. Other Web Connector services draw the same
  line (e.g. ColdBooks answers "E:" below 2.0).
- 2.0.x up to 2.2.0.33: warned. Intuit's Web Connector get-started documentation names QBWC
  2.2.0.34 or later as the build that works with current QuickBooks Desktop editions (US, and
  Canada / UK 2015 and later); older 2.x builds still speak the protocol, so the office
  manager may continue, but is told to update.
- 2.2.0.34 and later: "".

A version string that does not parse (a test client, a future format) is let through: refusing
a Web Connector we cannot identify would stop a sync for no known fault.
"""

from __future__ import annotations

import re

REFUSE_BELOW = (2, 0, 0, 0)
WARN_BELOW = (2, 2, 0, 34)
_VERSION = re.compile(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?\s*$")


def parse_client_version(text: str) -> tuple[int, int, int, int] | None:
    """ "2.3.0.215" -> (2, 3, 0, 215); missing parts are 0; None when it does not parse."""
    match = _VERSION.match(text or "")
    if match is None:
        return None
    a, b, c, d = (int(part) if part else 0 for part in match.groups())
    return a, b, c, d


def client_version_answer(text: str) -> str:
    """The clientVersion result for the Web Connector build `text` (see module doc)."""
    version = parse_client_version(text)
    if version is None or version >= WARN_BELOW:
        return ""
    if version < REFUSE_BELOW:
        return (
            f"E:This QuickBooks Web Connector ({text.strip()}) is too old for ml-connector: "
            "install the current QuickBooks Web Connector from Intuit, then run the update again."
        )
    return (
        f"W:This QuickBooks Web Connector ({text.strip()}) is older than 2.2.0.34, the build "
        "Intuit lists for current QuickBooks Desktop editions: you may continue, but please "
        "install the current Web Connector from Intuit soon."
    )
