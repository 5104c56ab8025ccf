"""Talking to the audit service's API from the CLI: JSON over HTTP (urllib), and its errors as
one sentence for people (exit code 2)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NoReturn

import typer

from mlconnector.cli.runtime import audit_url

EXIT_ERROR = 2


def fail(message: str) -> NoReturn:
    """Print one sentence to stderr and exit with code 2."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


def _detail(exc: urllib.error.HTTPError) -> str:
    """The API's own sentence (FastAPI's `detail`), without JSON around it."""
    try:
        body = json.loads(exc.read().decode("utf-8", errors="replace"))
    except ValueError:
        return f"the audit service answered {exc.code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        where = detail[0].get("loc", [])
        name = where[-1] if where else "a value"
        return f"{name} is not valid: {detail[0].get('msg', 'refused')}"
    return f"the audit service answered {exc.code}"


def call(method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
    """The decoded JSON answer of `method path`; exits with one sentence when the audit
    service cannot be reached or refuses the request."""
    base = audit_url()
    query = urllib.parse.urlencode({k: str(v) for k, v in (params or {}).items() if v is not None})
    url = f"{base}{path}" + (f"?{query}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        fail(_detail(exc).rstrip(".") + ".")
    except (OSError, ValueError):
        fail(
            f"Cannot reach the audit service at {base}: start `mlconnector up`, or set "
            "AUDIT_URL to where it runs."
        )


def money(amount: str | None) -> str:
    """'1,234.56' for '1234.56' ('' for None)."""
    if amount is None:
        return ""
    from decimal import Decimal

    return f"{Decimal(amount):,.2f}"
