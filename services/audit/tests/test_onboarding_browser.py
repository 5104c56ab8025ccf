"""The onboarding page in a real browser (Debian's Chromium driven by Playwright): the office
manager picks the candidate of an ambiguous customer, answers a refused name, and confirms."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import uvicorn
from onboarding_seed import seed_hold, seed_review

from mlconnector.audit.api import create_app
from mlconnector.audit.db import AuditDb
from mlconnector.common.connections import ConnectionStore
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.common.streams import declare_all

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
pytestmark = [
    pytest.mark.nats,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
    ),
]


class AuditThread:
    """Audit's app on its own event loop in a thread (the browser blocks this one)."""

    def __init__(self, nats_url: str, tmp_path: Path) -> None:
        self.nats_url = nats_url
        self.tmp_path = tmp_path
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.url = ""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: uvicorn.Server | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        nc = await nats.connect(self.nats_url)
        js = nc.jetstream()
        await declare_all(js)
        await seed_review(js)
        await seed_hold(js)
        db = AuditDb(f"sqlite+aiosqlite:///{self.tmp_path / 'audit.db'}")
        await db.migrate()
        self._server = uvicorn.Server(
            uvicorn.Config(create_app(db, js), host="127.0.0.1", port=0, log_level="warning")
        )
        task = asyncio.create_task(self._server.serve())
        for _ in range(3000):  # up to 30 s
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.started.set()
        await task
        await db.close()
        await nc.close()

    def __enter__(self) -> AuditThread:
        self._thread.start()
        assert self.started.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=20)


@pytest.fixture
def audit(nats_url: str, tmp_path: Path) -> Iterator[AuditThread]:
    with AuditThread(nats_url, tmp_path) as running:
        yield running


async def _state(nats_url: str) -> tuple[bool, str | None, str | None]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    connection = await (await ConnectionStore.open(js)).get("acme")
    review = await ReviewStore.open(js)
    plan = await review.plan_head("acme")
    hold = (await review.holds("acme")).items["customer:1004"]
    await nc.close()
    assert connection is not None
    return connection.onboarded, plan.state if plan else None, hold.choice


def test_the_office_manager_reviews_chooses_and_confirms_in_a_browser(
    audit: AuditThread, nats_url: str
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{audit.url}/onboarding")
        page.click("text=acme")
        page.wait_for_url("**/onboarding/acme")
        assert page.title() == "Onboarding acme"
        counts = page.locator("#counts tr").filter(has_text="customers").inner_text()
        assert counts.split("\t") == ["customers", "1", "0", "1", "1"]
        ambiguous = page.locator("tr.ambiguous[data-key='customer:1002']")
        assert "2 QuickBooks customers fit" in ambiguous.inner_text()
        ambiguous.locator("select").select_option("80-2")
        page.click("#save")
        page.wait_for_url("**message=**")
        assert page.locator("#message").inner_text() == "1 choice(s) recorded."
        assert "Smith & Sons" in page.locator("tr[data-key='customer:1002']").inner_text()

        hold = page.locator("#holds tr[data-key='customer:1004']")
        assert "2 record(s)" in hold.inner_text()
        hold.locator("text=Link to the existing customer").click()
        page.wait_for_url("**message=**")
        assert page.locator("#message").inner_text() == (
            "customer:1004: linked to QuickBooks customer 'Okafor, James' at the next Web "
            "Connector session."
        )

        page.click("#confirm")
        page.wait_for_url("**error=**")
        assert "name(s) of the mapping are not in QuickBooks" in page.locator("#error").inner_text()
        page.check("input[name=force]")
        page.click("#confirm")
        page.wait_for_url("**message=**")
        assert (
            page.locator("#message")
            .inner_text()
            .startswith("Confirmed the review of acme: linked 2 customers")
        )
        assert page.locator("#state").inner_text().startswith("Review: confirmed")
        assert page.locator("select").count() == 0  # nothing left to choose
        browser.close()
    assert asyncio.run(_state(nats_url)) == (True, "confirmed", "link")
