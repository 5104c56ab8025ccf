"""The Web Connector's interactive-mode operations, answered for a service that has none.

Interactive mode (QBWC 2.0, Programmer's Guide ch. 6) starts only when getLastError answers
"Interactive mode"; this gateway never does, so these calls come only from a Web Connector that
was told so by something else (a stale session, a user poking at it). The answers follow the
guide and Intuit's WCWebService sample: getInteractiveURL "" (there is no page to open),
interactiveDone "" (the guide: an empty string says the interactive session is over),
interactiveRejected "" (nothing to undo). Each is logged, since any call at all is unexpected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mlconnector.gateway.soap import SoapCall

log = logging.getLogger(__name__)

Handler = Callable[[SoapCall], Awaitable[str]]


async def get_interactive_url(call: SoapCall) -> str:
    log.warning("getInteractiveURL called; ml-connector has no interactive mode")
    return ""


async def interactive_rejected(call: SoapCall) -> str:
    reason = " ".join(call.params["reason"].split())[:200]
    log.warning("interactiveRejected called (reason %r); nothing to undo", reason)
    return ""


async def interactive_done(call: SoapCall) -> str:
    log.warning("interactiveDone called; there is no interactive session")
    return ""


def interactive_handlers() -> dict[str, Handler]:
    """operation name -> handler, for app.py's dispatch table."""
    return {
        "getInteractiveURL": get_interactive_url,
        "interactiveRejected": interactive_rejected,
        "interactiveDone": interactive_done,
    }
