"""Which qbXML version to speak with this Web Connector's QuickBooks.

The Web Connector reports it two ways on sendRequestXML (QBWC Programmer's Guide v2.0; Intuit's
WCWebService sample): `strHCPResponse`, on the first call of a session only, holds QuickBooks'
own HostQueryRs/CompanyQueryRs/PreferencesQueryRs, whose HostRet lists every
SupportedQBXMLVersion (qbxml130.xsd: HostRet/SupportedQBXMLVersion, maxOccurs unbounded); and
`qbXMLMajorVers` / `qbXMLMinorVers`, on every call, the highest version QuickBooks accepts.
QuickBooks accepts every older version too, so the choice is the highest version this gateway
builds that is not above what QuickBooks accepts.

The gateway builds qbXML 13.0 (common.qbxml.envelope.QBXML_VERSION, validated against the 13.0
XSD). 13.0 is accepted by QuickBooks 2014 and later (anchors/qbxml/README.txt); an older
QuickBooks cannot read our requests (it would answer HRESULT 0x80040400), so it is refused with
a message the office manager can act on instead of sending them.
"""

from __future__ import annotations

import re

from mlconnector.common.qbxml.envelope import QBXML_VERSION
from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted

Version = tuple[int, int]

# The versions this gateway can build messages in, highest first.
BUILT_VERSIONS: tuple[Version, ...] = ((13, 0),)
_NUMBER = re.compile(r"^\s*(\d{1,3})(?:\.(\d{1,3}))?\s*$")
_IN_TEXT = re.compile(r"(\d{1,3})\.(\d{1,3})")
assert QBXML_VERSION == "13.0", "BUILT_VERSIONS must follow envelope.QBXML_VERSION"


class UnsupportedQuickBooks(Exception):
    """QuickBooks accepts no qbXML version this gateway builds; str() is for the office
    manager (what happened, what to do)."""


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def parse_version_number(value: str) -> int | None:
    """qbXMLMajorVers/qbXMLMinorVers as sent: "13", or "13.0" as some clients send although
    the WSDL says s:int; "" (absent) is None. Raises ValueError for anything else."""
    if not value.strip():
        return None
    match = _NUMBER.match(value)
    if match is None or (match.group(2) not in (None, "0")):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(match.group(1))


def host_versions(hcp_response: str) -> list[Version]:
    """Every SupportedQBXMLVersion in QuickBooks' HostRet ("13.0", or "CA3.0" in old Canadian
    editions: the numbers are read); [] when the response is absent or unreadable."""
    if not hcp_response.strip():
        return []
    try:
        root = parse_untrusted(hcp_response)
    except UnsafeXMLError:
        return []
    found: list[Version] = []
    for node in root.iter("SupportedQBXMLVersion"):
        match = _IN_TEXT.search(node.text or "")
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return found


def choose_qbxml_version(hcp_response: str, major: str, minor: str) -> str:
    """The qbXML version (e.g. "13.0") for this session's messages.

    Uses the HostRet list when the Web Connector sent one, else qbXMLMajorVers/MinorVers, else
    (a client that reports nothing) the version the gateway builds. Raises ValueError for a
    malformed major/minor and UnsupportedQuickBooks when QuickBooks is too old."""
    major_n, minor_n = parse_version_number(major), parse_version_number(minor)
    accepted = host_versions(hcp_response)
    highest: Version | None = max(accepted) if accepted else None
    if highest is None and major_n is not None:
        highest = (major_n, minor_n or 0)
    if highest is None:
        return version_text(BUILT_VERSIONS[0])
    for version in BUILT_VERSIONS:
        if version <= highest:
            return version_text(version)
    raise UnsupportedQuickBooks(
        f"This QuickBooks accepts requests up to qbXML {version_text(highest)}, and ml-connector "
        f"needs qbXML {version_text(BUILT_VERSIONS[-1])} (QuickBooks Desktop 2014 or later): "
        "update QuickBooks Desktop on the computer that runs the Web Connector; nothing was "
        "sent and nothing is lost."
    )
