"""Fixtures shared by every member's tests: a real nats-server per test.

`NATS_URL` set -> that server is used instead (its ml-connector streams and buckets are wiped
before each test, so point it only at a server that is yours to wipe).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from hypothesis import settings as hypothesis_settings
from nats.aio.client import Client
from nats.js import JetStreamContext

from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.streams import ALL_BUCKETS, ALL_STREAMS, declare_all

ANCHORS = Path(__file__).resolve().parent.parent / "shared" / "anchors"

# CI must not fail on an example no developer has seen: there, Hypothesis replays a fixed
# sequence. Developers' runs explore at random and keep what they find in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def anchors() -> Path:
    path = Path(os.environ.get("MLCONNECTOR_ANCHORS", ANCHORS))
    if not (path / "qbxml" / "qbxmlops130.xsd").exists():
        pytest.fail(f"shared anchors not found at {path}; set MLCONNECTOR_ANCHORS")
    return path


async def _wipe(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for stream in ALL_STREAMS:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream.name)
    for bucket in ALL_BUCKETS:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_key_value(bucket)
    await nc.close()


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    external = os.environ.get("NATS_URL")
    if external:
        import asyncio

        asyncio.run(_wipe(external))
        yield external
        return
    with EmbeddedNats(store_dir=tmp_path / "nats") as server:
        yield server.url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    await declare_all(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()
