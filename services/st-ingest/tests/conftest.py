"""Fixtures: the ServiceTitan sandbox over real HTTP and an st-ingest client wired to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from mlconnector.common.streams import ST_EVENTS
from mlconnector.ingest.auth import TokenProvider
from mlconnector.ingest.client import StClient
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

TENANT = "1234567"


class Sleeps:
    """Stands in for asyncio.sleep: records the waits the client asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(SandboxSettings(page_size=2, tenant=TENANT)) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def tokens(http: httpx.AsyncClient, sandbox: RunningSandbox) -> TokenProvider:
    return TokenProvider(http, sandbox.url, "sandbox-client", "sandbox-secret")


@pytest.fixture
def client(
    http: httpx.AsyncClient, sandbox: RunningSandbox, tokens: TokenProvider, sleeps: Sleeps
) -> StClient:
    return StClient(
        http,
        tokens,
        sandbox.url,
        "sandbox-app-key",
        TENANT,
        max_retries=4,
        sleep=sleeps,
        rng=lambda: 0.5,
    )


async def stored_events(js: JetStreamContext) -> list[tuple[str, str, dict[str, Any]]]:
    """(subject, Nats-Msg-Id, event JSON) of every message in ST_EVENTS, in order."""
    info = await js.stream_info(ST_EVENTS.name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg(ST_EVENTS.name, seq)
        headers = msg.headers or {}
        event = json.loads(msg.data or b"{}")
        found.append((str(msg.subject), str(headers.get("Nats-Msg-Id")), event))
    return found
