"""Keep every request the sandbox gets and what it answered, so that tests can check the
whole conversation (the client's requests and the sandbox's answers) against ServiceTitan's
OpenAPI documents (`openapi.exchange_errors`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Exchange:
    """One API call: `query` maps each parameter to its values; bodies are parsed JSON (None
    when empty, the text when it is not JSON)."""

    method: str
    path: str
    query: dict[str, list[str]]
    request: Any
    status: int
    response: Any


def _parse(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


class ExchangeRecorder:
    """Pure ASGI middleware appending an `Exchange` per HTTP request to `exchanges`."""

    def __init__(self, app: ASGIApp, exchanges: list[Exchange]) -> None:
        self.app = app
        self.exchanges = exchanges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_body = bytearray()
        response_body = bytearray()
        status = 0

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                response_body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive_and_keep, send_and_keep)
        self.exchanges.append(
            Exchange(
                method=str(scope["method"]),
                path=str(scope["path"]),
                query=parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True),
                request=_parse(bytes(request_body)),
                status=status,
                response=_parse(bytes(response_body)),
            )
        )
