"""`mlconnector onboard`, run as the operator runs it (the installed script) against a real
nats-server holding a company read, ServiceTitan's customers in ST_EVENTS and a refused name."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import StEvent
from mlconnector.common.idmap import IdMap
from mlconnector.common.models import Address, Party
from mlconnector.common.onboarding.company import CompanyManifest, CompanyStore, QbEntry
from mlconnector.common.onboarding.store import ExistingEntry, Hold, Holds, ReviewStore
from mlconnector.common.streams import declare_all, st_event_subject

pytestmark = pytest.mark.nats

MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")
TENANT = "1234567"
WHEN = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)
QB_CUSTOMERS = [
    QbEntry(list_id="80-1", name="Hernandez, Maria", full_name="Hernandez, Maria"),
    QbEntry(list_id="80-2", name="Smith & Sons", full_name="Smith & Sons", edit_sequence="5"),
    QbEntry(list_id="80-3", name="Smith and Sons", full_name="Smith and Sons"),
    QbEntry(list_id="80-4", name="Chen, Wei #1004", full_name="Chen, Wei #1004"),
]
QB_VENDORS = [QbEntry(list_id="90-1", name="Ferguson Supply")]
QB_ITEMS = [
    QbEntry(list_id="I-1", name="ST Service", full_name="ST Service", kind="Service"),
    QbEntry(list_id="I-2", name="ST Sales Tax", kind="SalesTax", tax_rate="8.25"),
]
QB_ACCOUNTS = [
    QbEntry(list_id=f"A-{n}", name=name, full_name=name)
    for n, name in enumerate(
        ("Accounts Receivable", "Accounts Payable", "Undeposited Funds", "Cost of Goods Sold")
    )
]
# No "Non" code: the mapping's non_taxable_code is missing.
QB_CODES = [QbEntry(list_id="C-1", name="Tax")]


def _event(st_id: int, name: str, kind: str = "customer", when: dt.datetime = WHEN) -> StEvent:
    party = Party(
        kind=kind,  # type: ignore[arg-type]
        st_id=st_id,
        name=name,
        address=Address(street="1 Main St", city="Austin", state="TX", zip="78701"),
        modified_on=when,
    )
    return StEvent(
        tenant=TENANT,
        entity=kind,
        st_id=st_id,
        version=when.isoformat(),
        record=party,  # type: ignore[arg-type]
    )


async def _seed(nats_url: str, *, read: bool = True) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await declare_all(js)
    connection = Connection.create("acme", TENANT, "acme-qb", "password1")
    await (await ConnectionStore.open(js)).put(connection.model_copy(update={"onboarded": False}))
    events = [
        _event(1001, "Hernandez, Maria", when=WHEN - dt.timedelta(days=1)),
        _event(1001, "Hernandez, Maria"),  # the newest version counts
        _event(1002, "SMITH AND SONS"),
        _event(1003, "Ferguson Supply"),  # a vendor's name: created with the id suffix
        _event(1004, "Chen, Wei"),
        _event(2001, "Ferguson Supply", kind="vendor"),
    ]
    for event in events:
        await js.publish(
            st_event_subject(TENANT, event.entity),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": event.message_id},
        )
    if read:
        company = await CompanyStore.open(js)
        lists = {
            "customer": QB_CUSTOMERS,
            "vendor": QB_VENDORS,
            "item": QB_ITEMS,
            "account": QB_ACCOUNTS,
            "sales_tax_code": QB_CODES,
        }
        for name, entries in lists.items():
            await company.put_page("acme", "r1", name, 1, entries)
        await company.put_manifest(
            "acme",
            CompanyManifest(
                state="complete",
                read_id="r1",
                pages=dict.fromkeys(lists, 1),
                counts={name: len(entries) for name, entries in lists.items()},
                finished_at=WHEN,
                messages=3,
            ),
        )
    await nc.close()


def onboard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLCONNECTOR, "onboard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def _env(nats_url: str, tmp_path: Path) -> dict[str, str]:
    # No ServiceTitan credentials: the setup lists cannot be read, customers and vendors can.
    return {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path), "ST_TENANT": "other"}


def _one_sentence_error(result: subprocess.CompletedProcess[str], start: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {start}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_connection_not_read_yet_says_so(nats_url: str, tmp_path: Path) -> None:
    asyncio.run(_seed(nats_url, read=False))
    env = _env(nats_url, tmp_path)
    shown = onboard(env, "acme")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("acme: the QuickBooks company has not been read yet")
    assert json.loads(onboard(env, "acme", "--json").stdout)["state"] == "reading"
    _one_sentence_error(
        onboard(env, "acme", "--choose", "customer:1001=create"),
        "the QuickBooks company of acme has not been read yet",
    )
    _one_sentence_error(onboard(env, "nobody"), "there is no connection named 'nobody'")


def test_the_review_is_printed_changed_and_confirmed(nats_url: str, tmp_path: Path) -> None:
    asyncio.run(_seed(nats_url))
    env = _env(nats_url, tmp_path)

    shown = onboard(env, "acme")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "QuickBooks company read 2025-03-14 12:00 UTC in 3 Web Connector message(s)" in out
    assert "Review: not confirmed: nothing posts yet." in out
    assert "customers: 1 ambiguous: your choice, 1 to create, 2 matched" in out
    assert "customer:1001  Hernandez, Maria  ->  Hernandez, Maria  (the same name, 100%)" in out
    assert (
        "customer:1004  Chen, Wei  ->  Chen, Wei #1004  (named with its ServiceTitan id #1004, "
        "100%)"
    ) in out
    assert "customer:1003  Ferguson Supply  ->  added as 'Ferguson Supply #1003'" in out
    assert "        80-2  Smith & Sons  (the same name but for case" in out
    assert "  note: ServiceTitan: 4 customers and 1 vendor(s) as st-ingest published them" in out
    assert (
        "could not be read (connection 'acme' has no ServiceTitan credentials; store them with "
        "`mlconnector connection credentials acme`); they are not in this review." in out
    )
    assert "mapping check: 1 problem(s)\n  - non_taxable_code: 'Non' is not a sales tax code" in out
    assert "Next: choose the 1 ambiguous record(s)" in out

    plan = json.loads(onboard(env, "acme", "--json").stdout)
    assert plan["counts"] == {
        "customer": {"matched": 2, "ambiguous": 1, "create": 1},
        "vendor": {"matched": 1},
    }
    assert plan["mapping_problems"] == [
        "non_taxable_code: 'Non' is not a sales tax code in QuickBooks; create it there or "
        "change the mapping"
    ]

    _one_sentence_error(
        onboard(env, "acme", "--choose", "customer:1002=80-77"),
        "--choose: customer:1002: QuickBooks has no customers entry '80-77'",
    )
    _one_sentence_error(
        onboard(env, "acme", "--choose", "customer:1002"),
        "--choose takes KEY=VALUE",
    )
    _one_sentence_error(
        onboard(env, "acme", "--choose", "customer:1002=80-1"),
        "--choose: customer:1002: QuickBooks customer 'Hernandez, Maria' is already "
        "customer:1001's match",
    )
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("name,value\nx,y\n")
    _one_sentence_error(
        onboard(env, "acme", "--csv", str(bad_csv)), "the CSV needs a 'key' and a 'choice' column"
    )
    _one_sentence_error(
        onboard(env, "acme", "--confirm"), "1 record(s) are still ambiguous (customer:1002)"
    )

    chosen = onboard(env, "acme", "--choose", "customer:1002=smith and sons")
    assert chosen.returncode == 0, chosen.stderr
    assert "1 choice(s) recorded." in chosen.stdout
    assert "customer:1002  SMITH AND SONS  ->  Smith and Sons  (chosen by the operator" in (
        chosen.stdout
    )
    _one_sentence_error(
        onboard(env, "acme", "--confirm"),
        "1 name(s) of the mapping are not in QuickBooks (first: non_taxable_code:",
    )
    confirmed = onboard(env, "acme", "--confirm", "--force")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.startswith(
        "Confirmed the review of acme: linked 3 customers, 1 vendor; 3 name(s) kept as "
        "QuickBooks has them or given the ServiceTitan id."
    )
    assert "Review: confirmed: posting." in confirmed.stdout
    _one_sentence_error(
        onboard(env, "acme", "--choose", "customer:1003=create"),
        "the review of acme is confirmed already",
    )
    _one_sentence_error(onboard(env, "acme", "--reread"), "acme is onboarded already")

    async def written() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        connection = await (await ConnectionStore.open(js)).get("acme")
        assert connection is not None
        assert connection.onboarded
        id_map = await IdMap.open(js)
        maria = await id_map.get("acme", "customer", 1001)
        assert maria is not None
        # The newest version matched: older ones are never applied over it.
        assert (maria.qb_id, maria.version_at, maria.event_id) == (
            "80-1",
            WHEN,
            f"{TENANT}:customer:1001:{WHEN.isoformat()}",
        )
        assert maria.request_type == "CustomerAddRq"
        names = await (await ReviewStore.open(js)).names(
            "acme", [("customer", n) for n in (1001, 1002, 1003, 1004)]
        )
        assert {key: value.name for key, value in names.items()} == {
            ("customer", 1002): "Smith and Sons",
            ("customer", 1003): "Ferguson Supply #1003",
            ("customer", 1004): "Chen, Wei #1004",
        }
        await nc.close()

    asyncio.run(written())


def test_a_refused_name_is_resolved_from_the_command_line(nats_url: str, tmp_path: Path) -> None:
    asyncio.run(_seed(nats_url))
    env = _env(nats_url, tmp_path)

    async def hold() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        offered = Hold(
            entity="vendor",
            st_id=2002,
            ledger_key="acme.r.vendor.2002",
            command_id="cmd-x",
            name="Hernandez, Maria",
            suffixed_name="Hernandez, Maria #2002",
            message="in use",
            state="offered",
            existing=ExistingEntry(list_id="80-1", name="Hernandez, Maria", kind="Customer"),
            can_link=False,
            dependants=1,
        )

        def add(current: Holds) -> Holds:
            current.items[offered.key] = offered
            return current

        await (await ReviewStore.open(js)).change_holds("acme", add)
        await nc.close()

    asyncio.run(hold())
    shown = onboard(env, "acme")
    assert (
        "  vendor:2002  'Hernandez, Maria' is QuickBooks customer 'Hernandez, Maria' (80-1); "
        "1 record(s) wait"
    ) in shown.stdout
    _one_sentence_error(
        onboard(env, "acme", "--resolve", "vendor:2002=link"),
        "vendor:2002: 'Hernandez, Maria' in QuickBooks is not a vendor, so it cannot be linked",
    )
    resolved = onboard(env, "acme", "--resolve", "vendor:2002=suffix")
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.startswith(
        "vendor:2002: added as 'Hernandez, Maria #2002' at the next Web Connector session."
    )
    assert "chosen: suffix" in resolved.stdout
