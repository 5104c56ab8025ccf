"""What QuickBooks says about itself: HostQuery, and the HostQueryRs the Web Connector sends."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.outcomes import Outcome
from mlconnector.qbsim.ret_fields import sub
from mlconnector.qbsim.statuses import MSG_OK

# QuickBooks 2014 (internal version 24) is the release that shipped qbXML 13.0, the schema this
# simulator validates against.
PRODUCT_NAME = "Intuit QuickBooks Premier Edition: Contractor 2014"
PRODUCT_MAJOR_VERSION = "24"
PRODUCT_MINOR_VERSION = "0"
SUPPORTED_QBXML_VERSIONS = (
    "1.0",
    "1.1",
    "2.0",
    "2.1",
    "3.0",
    "4.0",
    "4.1",
    "5.0",
    "6.0",
    "7.0",
    "8.0",
    "9.0",
    "10.0",
    "11.0",
    "12.0",
    "13.0",
)


def host_ret() -> etree._Element:
    ret = etree.Element("HostRet")
    sub(ret, "ProductName", PRODUCT_NAME)
    sub(ret, "MajorVersion", PRODUCT_MAJOR_VERSION)
    sub(ret, "MinorVersion", PRODUCT_MINOR_VERSION)
    sub(ret, "Country", "US")
    for version in SUPPORTED_QBXML_VERSIONS:
        sub(ret, "SupportedQBXMLVersion", version)
    sub(ret, "IsAutomaticLogin", "false")
    sub(ret, "QBFileMode", "SingleUser")
    return ret


def handle_host_query(company: Company, request: etree._Element) -> Outcome:
    return Outcome([host_ret()])


def host_query_response(request_id: str | None = None) -> str:
    """The HostQueryRs document the Web Connector sends as strHCPResponse."""
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRs")
    response = etree.SubElement(msgs, "HostQueryRs")
    if request_id is not None:
        response.set("requestID", request_id)
    response.set("statusCode", "0")
    response.set("statusSeverity", "Info")
    response.set("statusMessage", MSG_OK)
    response.append(host_ret())
    body: str = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" ?>\n' + body
