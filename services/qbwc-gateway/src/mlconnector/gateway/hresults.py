"""What the office manager should do about each HRESULT the Web Connector reports.

The Web Connector passes QuickBooks' request-processor (QBXMLRP2) error to receiveResponseXML
(`hresult`, `message`, with an empty response) and to connectionError (it could not open the
company file at all). The codes below are QBXMLRP2's; sources for their meaning:

- [S] Intuit's Web Connector sample service (IntuitDeveloper/QBXML_SDK_Samples,
  qbdt/c-sharp/qbXML/WCWebService/App_Code/WCWebService.asmx.cs, connectionError):
  0x80040400 parse error, 0x80040401 could not access QuickBooks, 0x80040402 unexpected error
  (see qbsdklog.txt).
- [F] shared/FACTS.md (QBWC Programmer's Guide): 0x80040408 could not start QuickBooks,
  0x8004040D invalid ticket.
- [Q] QBXMLRP2's own message texts as quoted by integrations that show them to their users
  (public source of NexTech Practice's QuickBooks link; Seradex's help; ConnectBooster /
  Conductor's error pages for 0x80040420): 0x80040403, 0x80040406, 0x8004040A, 0x80040416,
  0x80040417, 0x80040418, 0x8004041A, 0x8004041D, 0x8004041F, 0x80040420, 0x80040422,
  0x80040424.
- [M] open-source QuickBooks SDK wrappers' mappings: 0x80040410 (company file open in another
  mode, i.e. single-user on another computer), 0x80040414 (a modal dialog is open in QuickBooks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Advice:
    """meaning: what QuickBooks said happened; action: what the office manager does."""

    meaning: str
    action: str


HRESULTS: dict[int, Advice] = {
    0x80040400: Advice(  # [S]
        "QuickBooks could not read a request ml-connector sent",
        "update QuickBooks Desktop (ml-connector needs QuickBooks 2014 or later), and if it "
        "happens again send this message to ml-connector support",
    ),
    0x80040401: Advice(  # [S]
        "the Web Connector could not reach QuickBooks",
        "check that QuickBooks Desktop opens normally on the Web Connector's computer and that "
        "QuickBooks and the Web Connector run as the same Windows user (both, or neither, with "
        "'Run as administrator')",
    ),
    0x80040402: Advice(  # [S]
        "QuickBooks had an unexpected error",
        "close and reopen QuickBooks and the Web Connector; if it happens again, send "
        "QuickBooks' qbsdklog.txt to ml-connector support",
    ),
    0x80040403: Advice(  # [Q]
        "QuickBooks could not open the company file",
        "check that the company file exists at the path in the connection, that its folder or "
        "network drive is reachable from the Web Connector's computer, and that it opens in "
        "QuickBooks",
    ),
    0x80040406: Advice(  # [Q]
        "the company file named in the connection was not found",
        "correct the company file path in the connection (or open the right file in "
        "QuickBooks and leave the path empty)",
    ),
    0x80040408: Advice(  # [F]
        "QuickBooks is not running and could not be started",
        "open QuickBooks on the Web Connector's computer and log in to the company file, close "
        "any window QuickBooks shows at start, and leave it open",
    ),
    0x8004040A: Advice(  # [Q]
        "a different company file is open in QuickBooks",
        "close the other company file and open this connection's company file",
    ),
    0x8004040D: Advice(  # [F]
        "the Web Connector's session with QuickBooks expired",
        "nothing: the next update starts a new session",
    ),
    0x80040410: Advice(  # [M]
        "the company file is open in single-user mode on another computer",
        "ask whoever has it open to switch to multi-user mode (File > Switch to Multi-user "
        "Mode) or to close it",
    ),
    0x80040414: Advice(  # [M]
        "a window is open in QuickBooks and blocks other programs",
        "close the open dialog or window in QuickBooks",
    ),
    0x80040416: Advice(  # [Q]
        "QuickBooks is not running and no company file is set for this connection",
        "open QuickBooks with the company file, or set the company file path in the connection",
    ),
    0x80040417: Advice(  # [Q]
        "QuickBooks is open but no company file is open",
        "open this connection's company file in QuickBooks",
    ),
    0x80040418: Advice(  # [Q]
        "ml-connector has not been given access to this company file yet",
        "log in to QuickBooks as the Admin user in single-user mode, run the update once from "
        "the Web Connector and allow access when QuickBooks asks",
    ),
    0x8004041A: Advice(  # [Q]
        "ml-connector does not have permission to use this company file",
        "in QuickBooks, as Admin: Edit > Preferences > Integrated Applications > Company "
        "Preferences, allow access for ml-connector",
    ),
    0x8004041D: Advice(  # [Q]
        "ml-connector is not allowed to log in to this company file automatically",
        "in QuickBooks, as Admin: Edit > Preferences > Integrated Applications > Company "
        "Preferences > Properties, tick 'Allow this application to login automatically'",
    ),
    0x8004041F: Advice(  # [Q]
        "this edition of QuickBooks does not allow other programs to connect",
        "use QuickBooks Desktop Pro, Premier or Enterprise",
    ),
    0x80040420: Advice(  # [Q]
        "access for ml-connector was refused in QuickBooks",
        "in QuickBooks, as Admin: Edit > Preferences > Integrated Applications > Company "
        "Preferences, select ml-connector, Properties, allow access and automatic login",
    ),
    0x80040422: Advice(  # [Q]
        "another program is using the company file in single-user mode",
        "close the other program that is connected to QuickBooks, or wait until it finishes",
    ),
    0x80040424: Advice(  # [Q]
        "QuickBooks had not finished starting",
        "nothing, unless it repeats: then open QuickBooks before the Web Connector's next update",
    ),
}

_HEX = re.compile(r"^\s*(?:0x)?([0-9a-fA-F]{8})\s*$")
_DECIMAL = re.compile(r"^\s*(-?\d{1,10})\s*$")

# What happens to the records, by where the Web Connector reported the error.
_THEN = {
    "request": "nothing was lost; the records go again at the next update",
    "connection": "nothing was sent; the records go at the next update",
}


def parse_hresult(text: str) -> int | None:
    """ "0x80040408", "80040408" or the signed decimal .NET prints (-2147220472) -> 0x80040408."""
    hex_match = _HEX.match(text or "")
    if hex_match:
        return int(hex_match.group(1), 16)
    dec_match = _DECIMAL.match(text or "")
    if dec_match:
        return int(dec_match.group(1)) & 0xFFFFFFFF
    return None


def explain_hresult(
    hresult: str, message: str, where: Literal["request", "connection"] = "request"
) -> str:
    """One sentence for SessionState.last_error and the outcomes: what happened, what the office
    manager does, what happens to the records; QuickBooks' own text follows for support.
    `where`: reported by receiveResponseXML ("request") or connectionError ("connection")."""
    code = parse_hresult(hresult)
    shown = f"0x{code:08X}" if code is not None else (hresult.strip() or "no code")
    said = " ".join((message or "").split())[:300]
    suffix = f" (QuickBooks said: {said})" if said else ""
    advice = HRESULTS.get(code) if code is not None else None
    if advice is None:
        return (
            f"The Web Connector reported error {shown}; {_THEN[where]}. If it happens again, "
            f"send this message to ml-connector support.{suffix}"
        )
    meaning = advice.meaning[0].upper() + advice.meaning[1:]
    return f"{meaning} ({shown}): {advice.action}; {_THEN[where]}.{suffix}"
