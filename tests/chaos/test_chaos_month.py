"""A contractor's month, synced through every fault at harsh rates, verified to the cent.

The month (sims/servicetitan month.py: customers, vendors, invoices in two tax zones,
adjustment invoices and refunds, payments, inventory bills; edits made while QuickBooks is
closed, edits and voids after posting) is served by the ServiceTitan sandbox over HTTP.
st-ingest, the mapper, the QBWC gateway and audit run as their own processes from their
console entries on a real nats-server; the Web Connector and QuickBooks are simulated
(sims/quickbooks) with every fault the simulator has: QuickBooks not running or open in
another mode, busy, slow (some messages over the Web Connector's timeout), answers lost after
QuickBooks applied them, HTTP timeouts, and the office manager editing customers between our
query and our Mod; messages of 10 requests. The mapper is killed (SIGKILL) while it maps the
month, audit while sessions run, and the gateway twice right after QuickBooks applied a
message (once started again at once, once after the Web Connector gave up).

At the end every ServiceTitan record is in QuickBooks once with ServiceTitan's amounts and
balances to the cent (0 doubled, 0 missing, 0 stale), AR, AP and each customer's balance
agree, and audit's status and QuickBooks id agree with QuickBooks for every record.

`make test` (CI) runs the reduced month (`MonthSize.small()`: every kind of record and
change, fewer of each) with a fixed seed; `make chaos` runs the full month and prints its
figures (CHAOS_FULL=1, CHAOS_SEED to choose another seed).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from mlconnector.stsandbox.month import Month, MonthSize, generate_month

from .books import compare
from .harness import (
    CONNECTION,
    ST_ENTITIES,
    ChaosPlan,
    ChaosSystem,
    get_json,
    wait_until,
)

FULL = os.environ.get("CHAOS_FULL") == "1"
SEED = int(os.environ.get("CHAOS_SEED", "7"))

# Every fault of the simulated Web Connector, at rates no real office sees for long.
HARSH = (
    "qb-not-running:0.08,file-open-other-mode:0.04,qb-busy:0.12,slow:0.15,"
    "response-lost:0.1,user-edit:0.3,http-timeout:0.04"
)

# Each fault strikes for sure at least once, at its n-th chance (per cycle, message or call).
FORCED = {
    "qb-not-running": 2,
    "file-open-other-mode": 4,
    "qb-busy": 3,
    "slow": 5,
    "response-lost": 7,
    "http-timeout": 11,
    "user-edit": 2,
}

PLAN = (
    ChaosPlan(
        seed=SEED,
        faults=HARSH,
        latency_ms=25,
        request_timeout=0.2,  # a slow message of more than 8 requests times out
        gateway_kills=((12, False), (40, True), (75, False)),
        audit_kill_cycle=5,
        audit_down_cycles=4,
        max_cycles=600,
        forced=FORCED,
    )
    if FULL
    else ChaosPlan(
        seed=SEED,
        faults=HARSH,
        latency_ms=25,
        request_timeout=0.2,
        gateway_kills=((6, False), (14, True)),
        audit_kill_cycle=3,
        audit_down_cycles=3,
        max_cycles=300,
        forced=FORCED,
    )
)

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.e2e,
    pytest.mark.nats,
    pytest.mark.timeout(1800 if FULL else 420),
]


def _first_counts(month: Month) -> dict[str, int]:
    return {ST_ENTITIES[entity]: len(records) for entity, records in month.records().items()}


def _with(counts: dict[str, int], changes: list[Any]) -> dict[str, int]:
    out = dict(counts)
    for change in changes:
        out[ST_ENTITIES[change.entity]] += 1
    return out


def _audit_records(system: ChaosSystem) -> dict[tuple[str, int], list[dict[str, Any]]]:
    rows = get_json(f"{system.audit_url}/api/records?connection={CONNECTION}&limit=5000")
    found: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        found[(row["entity"], row["st_id"])].append(row)
    return found


def test_a_contractors_month_through_every_fault_posts_exactly_once(
    nats_url: str, tmp_path: Path
) -> None:
    month = generate_month(SEED, MonthSize() if FULL else MonthSize.small())
    system = ChaosSystem(nats_url, tmp_path, month, PLAN)
    with system.running():
        # 1. st-ingest reads the month while the mapper is down; the mapper starts and is
        # killed while it maps the backlog, then started again.
        first = _first_counts(month)
        system.wait_for_events(first)
        system.start("mapper")
        wait_until("the first commands", lambda: system.commands() >= 10, 120, every=0.02)
        backlog = system.mapper_backlog() or 0
        system.kill("mapper")
        system.start("mapper")
        system.wait_mapped()

        # 2. QuickBooks closed over the weekend: records edited before they could post.
        month.apply_waiting_edits(system.sandbox.store)
        system.wait_for_events(_with(first, month.waiting_edits))
        system.wait_mapped()

        # 3. The Web Connector runs, through every fault, until QuickBooks has it all.
        system.sync_until_quiet("month")

        # 4. Edits after posting and voids; then again until nothing is left.
        month.apply_later(system.sandbox.store)
        system.wait_for_events(_with(first, [*month.waiting_edits, *month.later]))
        system.wait_mapped()
        system.sync_until_quiet("after posting")
        system.wait_audited()

        result = compare(
            system.company,
            month.books(),
            system.sandbox.store,
            _audit_records(system),
            CONNECTION,
        )
        figures = system.figures
        print()
        print(f"chaos month, seed {SEED} ({'full' if FULL else 'reduced'})")
        print(result.table())
        phases = ", ".join(f"{k}: {v}" for k, v in figures.phases.items())
        print(
            f"cycles {figures.cycles} ({phases}), messages {figures.messages}, "
            f"requests {figures.requests}"
        )
        print("faults " + ", ".join(f"{k} {v}" for k, v in sorted(figures.faults.items())))
        print(f"kills {', '.join(figures.kills)} (mapper killed with {backlog} events unmapped)")
        print(
            f"doubled {result.total('doubled')}, missing {result.total('missing')}, "
            f"stale {result.total('stale')}, wrong {result.total('wrong')}, "
            f"audit disagreeing {result.total('audit wrong')}"
        )
        assert result.problems == [], "\n".join(result.problems[:60])
        # Faults are expected, errors are not: no service logged one.
        assert system.errors() == [], "\n".join(system.errors()[:30])
        assert backlog > 0, "the mapper was killed with nothing left to map"
        # Every fault was injected, and every kill happened.
        assert set(figures.faults) == {
            "qb-not-running",
            "file-open-other-mode",
            "qb-busy",
            "slow",
            "response-lost",
            "user-edit",
            "http-timeout",
        }, figures.faults
        assert sorted(figures.kills) == sorted(
            ["mapper", "audit"] + ["qbwc-gateway"] * len(PLAN.gateway_kills)
        )
