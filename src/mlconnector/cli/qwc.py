"""The .qwc file the office manager opens in the Web Connector to add our application."""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml import etree

from mlconnector.common.connections import Connection


class QwcError(ValueError):
    """The .qwc would be refused by the Web Connector (bad URL, schedule)."""


def build_qwc(connection: Connection, app_url: str, run_every_minutes: int = 5) -> str:
    parts = urlsplit(app_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QwcError(
            f"the gateway address {app_url!r} is not an http(s) URL: pass --url "
            "https://<your host>/qbwc, or set QBWC_PUBLIC_URL to it."
        )
    # The Web Connector refuses plain http except for localhost (QBWC1010/1051).
    if parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1"):
        raise QwcError(
            f"the Web Connector only accepts https for {parts.hostname}: set QBWC_PUBLIC_URL "
            "(or --url) to the gateway's https address."
        )
    if not 1 <= run_every_minutes <= 59:
        raise QwcError("--every-minutes must be between 1 and 59 (the Web Connector's schedule).")
    root = etree.Element("QBWCXML")
    fields = [
        ("AppName", f"ml-connector ({connection.name})"),
        ("AppID", ""),
        ("AppURL", app_url),
        ("AppDescription", f"ServiceTitan tenant {connection.tenant} to QuickBooks"),
        # Same domain as AppURL, or the Web Connector refuses it (QBWC1000).
        ("AppSupport", f"{parts.scheme}://{parts.netloc}/healthz"),
        ("UserName", connection.qbwc_username),
        # Stable ids: a re-downloaded .qwc must not be listed as a second app (QBWC1039).
        ("OwnerID", connection.owner_id),
        ("FileID", connection.file_id),
        ("QBType", "QBFS"),
    ]
    for tag, text in fields:
        etree.SubElement(root, tag).text = text
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(run_every_minutes)
    etree.SubElement(root, "IsReadOnly").text = "false"
    body = etree.tostring(root, pretty_print=True, encoding="unicode")
    return f'<?xml version="1.0"?>\n{body}'
