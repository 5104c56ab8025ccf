"""The two ways QuickBooks says no: one request refused (`QbError`), or the whole message."""

from __future__ import annotations

HRESULT_PARSE_ERROR = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."


class QbError(Exception):
    """A request QuickBooks refuses: carries the qbXML statusCode and statusMessage."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class QbxmlParseError(Exception):
    """QuickBooks refused the whole message; the Web Connector reports hresult + message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{PARSE_ERROR_MESSAGE} ({detail})")
        self.hresult = HRESULT_PARSE_ERROR
        self.message = PARSE_ERROR_MESSAGE
        self.detail = detail
