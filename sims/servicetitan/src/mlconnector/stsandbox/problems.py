"""ServiceTitan's error answer (ApiErrorResponse, RFC 7807 shaped)."""

from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse


def problem(status: int, title: str, errors: dict[str, list[str]] | None = None) -> JSONResponse:
    """ServiceTitan's ApiErrorResponse (RFC 7807 shaped)."""
    return JSONResponse(
        status_code=status,
        content={
            "type": f"https://httpstatuses.io/{status}",
            "title": title,
            "status": status,
            "traceId": uuid.uuid4().hex,
            "errors": errors or {},
            "data": {},
        },
    )
