"""Fixtures shared by every member's tests: a real nats-server per test.

`NATS_URL` set -> that server is used instead (its ml-connector streams and buckets are wiped
before each test, so point it only at a server that is yours to wipe).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path

import nats
import pytest
from hypothesis import settings as hypothesis_settings
from nats.aio.client import Client
from nats.js import JetStreamContext

from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.qbxml.schema import PACKAGED_XSD_DIR
from mlconnector.common.streams import ALL_BUCKETS, ALL_STREAMS, declare_all
from mlconnector.stsandbox.openapi import DOCUMENTS_DIR

# The official references, when the project's shared folder sits beside the checkout. The
# project never needs them: it ships the copies it relies on (below), and only the tests that
# compare those copies with the originals need this folder.
OFFICIAL_ANCHORS = Path(__file__).resolve().parent.parent / "shared" / "anchors"

# CI must not fail on an example no developer has seen: there, Hypothesis replays a fixed
# sequence. Developers' runs explore at random and keep what they find in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def official_anchors() -> Path:
    """shared/anchors beside the checkout (or `MLCONNECTOR_ANCHORS`), for the tests that
    compare the project's packaged copies with the originals; skipped where it is absent."""
    path = Path(os.environ.get("MLCONNECTOR_ANCHORS", OFFICIAL_ANCHORS))
    if not (path / "qbxml" / "qbxmlops130.xsd").exists():
        pytest.skip(
            f"the official anchors are not at {path} (a clone without the shared folder); "
            "only the comparison of the packaged copies with them is skipped"
        )
    return path


@pytest.fixture(scope="session")
def qbxml_xsd() -> Path:
    """The packaged qbXML 13.0 schema's entry point (it includes the files beside it)."""
    return PACKAGED_XSD_DIR / "qbxmlops130.xsd"


@pytest.fixture(scope="session")
def qbwc_wsdl() -> Path:
    """The packaged Web Connector WSDL (the gateway serves it)."""
    return Path(str(resources.files("mlconnector.gateway").joinpath("QBWebConnectorSvc.wsdl")))


@pytest.fixture(scope="session")
def st_documents() -> Path:
    """The packaged ServiceTitan OpenAPI documents (tenant-accounting-v2.json, ...)."""
    return DOCUMENTS_DIR


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
