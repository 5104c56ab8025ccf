"""Audit's onboarding pages over real HTTP and a real nats-server: the review with its choices,
confirmation refused then done, a name QuickBooks refused answered from the page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from nats.js import JetStreamContext
from onboarding_seed import seed_hold, seed_review

from mlconnector.audit.api import create_app
from mlconnector.audit.db import AuditDb
from mlconnector.common.connections import ConnectionStore
from mlconnector.common.idmap import IdMap
from mlconnector.common.onboarding.store import ReviewStore

pytestmark = pytest.mark.nats


@pytest.fixture
async def base_url(js: JetStreamContext, sqlite_db: AuditDb) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(sqlite_db, js), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(3000):  # up to 30 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


async def test_the_review_page_shows_the_plan_and_takes_choices_then_confirms(
    js: JetStreamContext, base_url: str
) -> None:
    await seed_review(js)
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = (await client.get("/onboarding/acme")).text
        assert (
            "Review: <strong>not confirmed</strong>: nothing is posted before you confirm" in page
        )
        assert "customer:1001 Hernandez, Maria</td><td>matched</td>" in page
        assert "<option value='80-2'>Smith &amp; Sons (the same name but for case" in page
        assert "added as Chen, Wei" in page
        assert (
            "deposit_account: &#x27;Undeposited Funds&#x27; is not an account in QuickBooks" in page
        )

        refused = await client.post("/onboarding/acme/confirm", data={})
        assert refused.status_code == 303
        shown = (await client.get(refused.headers["location"])).text
        assert "Not confirmed: 1 record(s) are still ambiguous (customer:1002)" in shown

        bad = await client.post("/onboarding/acme/choices", data={"choice:customer:1002": "80-77"})
        shown = (await client.get(bad.headers["location"])).text
        assert "QuickBooks has no customers entry &#x27;80-77&#x27;" in shown
        assert "nothing was changed" in shown

        # The list's choice wins over the empty text box beside it.
        chosen = await client.post(
            "/onboarding/acme/choices",
            content="choice%3Acustomer%3A1002=80-3&choice%3Acustomer%3A1002=",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        shown = (await client.get(chosen.headers["location"])).text
        assert "1 choice(s) recorded." in shown
        assert "SMITH AND SONS</td><td>matched (your choice)</td><td>Smith and Sons" in shown

        still = await client.post("/onboarding/acme/confirm", data={})
        shown = (await client.get(still.headers["location"])).text
        assert "name(s) of the mapping are not in QuickBooks" in shown
        done = await client.post("/onboarding/acme/confirm", data={"force": "on"})
        shown = (await client.get(done.headers["location"])).text
        assert "Confirmed the review of acme: linked 2 customers" in shown
        assert "Review: <strong>confirmed</strong>" in shown

        api = (await client.get("/api/onboarding/acme")).json()
        assert api["state"] == "confirmed"
        assert api["counts"] == {"customer": {"matched": 2, "create": 1}}
    connection = await (await ConnectionStore.open(js)).get("acme")
    assert connection is not None
    assert connection.onboarded
    mapping = await (await IdMap.open(js)).get("acme", "customer", 1002)
    assert mapping is not None
    assert (mapping.qb_id, mapping.edit_sequence, mapping.event_id) == (
        "80-3",
        "13",
        "1234567:customer:1002:v1",
    )
    names = await (await ReviewStore.open(js)).names("acme", [("customer", 1002)])
    assert names[("customer", 1002)].name == "Smith and Sons"


async def test_a_refused_name_is_answered_from_the_page(
    js: JetStreamContext, base_url: str
) -> None:
    await seed_review(js)
    await seed_hold(js)
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = (await client.get("/onboarding/acme")).text
        assert (
            "customer okafor, james" not in page.lower() or "Names QuickBooks already uses" in page
        )
        assert "customer Okafor, James (80-9), 512-555-0142" in page
        assert "<td>2 record(s)</td>" in page
        assert "Link to the existing customer" in page
        assert "Create as Okafor, James #1004" in page
        answered = await client.post(
            "/onboarding/acme/holds/customer:1004", data={"choice": "suffix"}
        )
        shown = (await client.get(answered.headers["location"])).text
        assert "customer:1004: added as &#x27;Okafor, James #1004&#x27; at the next" in shown
        assert "chosen: suffix (carried out at the next session)" in shown
        wrong = await client.post("/onboarding/acme/holds/customer:9999", data={"choice": "link"})
        shown = (await client.get(wrong.headers["location"])).text
        assert "&#x27;customer:9999&#x27; is not waiting for a choice in acme" in shown
        listing = (await client.get("/onboarding")).text
        assert "review draft</td><td>1</td>" in listing
        missing = await client.get("/onboarding/nobody")
        assert missing.status_code == 404
