"""Fixtures: the ServiceTitan sandbox over real HTTP and an st-ingest client wired to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlconnector.common.broker import make_broker
from mlconnector.common.streams import ST_EVENTS
from mlconnector.ingest.auth import TokenProvider
from mlconnector.ingest.client import StClient
from mlconnector.ingest.settings import IngestSettings
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
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def broker(nats_url: str, spans: InMemorySpanExporter) -> AsyncIterator[NatsBroker]:
    """st-ingest's broker, its spans captured in memory (exported as they end)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    broker = make_broker(
        IngestSettings.model_validate({"NATS_URL": nats_url}),
        "st-ingest",
        tracer_provider=provider,
    )
    await broker.connect()
    yield broker
    await broker.stop()


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
    return [
        (subject, str(headers.get("Nats-Msg-Id")), event)
        for subject, headers, event in await stored_messages(js)
    ]


async def stored_messages(
    js: JetStreamContext,
) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """(subject, headers, JSON body) of every message in ST_EVENTS, in order."""
    info = await js.stream_info(ST_EVENTS.name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg(ST_EVENTS.name, seq)
        body = json.loads(msg.data or b"{}")
        found.append((str(msg.subject), dict(msg.headers or {}), body))
    return found
