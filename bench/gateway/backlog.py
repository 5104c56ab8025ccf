"""A backlog through one connection: Web Connector round trips, and a slow QuickBooks.

    uv run --frozen python -m bench.gateway.backlog [--records 1000] [--batch 50]
                                                    [--slow-records 500] [--seed 7]

Both parts run the gateway from its console entry on a fresh nats-server (EmbeddedNats), the
real mapper's commands for ServiceTitan records (half customers, half invoices naming them,
queued invoices first so that dependants arrive ahead of their dependencies), and the project's
QuickBooks simulator behind the simulated Web Connector (mlconnector.qbsim.driver).

1. Round trips: one Web Connector session posts the whole backlog; printed: the number of
   messages (sendRequestXML / receiveResponseXML round trips) beside the bound
   ceil(records / batch) + 2, and the NATS messages the gateway sent per record.
2. Slow QuickBooks: the driver's `slow` fault on every message at a fixed seed, QuickBooks
   taking --slow-ms per request and the Web Connector giving up on a message after 60 s
   (QuickBooks still applies it); printed: the cycles until every record is in QuickBooks
   once, the message sizes the gateway chose, and the messages given up on.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import nats

from bench.gateway.run import child, free_port, gateway_command, in_msgs
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import StEvent
from mlconnector.common.models import Address, Invoice, InvoiceLine, Party
from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.streams import command_subject, declare_all
from mlconnector.mapper.commands import map_event
from mlconnector.qbsim.company import Company, seed_contractor
from mlconnector.qbsim.cycle_report import CycleReport
from mlconnector.qbsim.driver import WebConnectorDriver
from mlconnector.qbsim.processor import QbxmlProcessor

PASSWORD = "bench-password"
COMPANY_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Bench.qbw"
MONDAY = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def events(records: int) -> list[StEvent]:
    """records/2 invoices (first) and the records/2 customers they name."""
    pairs = records // 2
    invoices = []
    customers = []
    for n in range(pairs):
        name = f"Customer {n:05d}"
        customers.append(
            StEvent(
                tenant="7000001",
                entity="customer",
                st_id=100_000 + n,
                version=MONDAY.isoformat(),
                record=Party(
                    kind="customer",
                    st_id=100_000 + n,
                    name=name,
                    address=Address(street=f"{n} Main St", city="Springfield", zip="62701"),
                    modified_on=MONDAY,
                ),
            )
        )
        invoice = Invoice(
            st_id=500_000 + n,
            number=str(500_000 + n),
            customer_st_id=100_000 + n,
            customer_name=name,
            invoice_date=dt.date(2026, 11, 27),
            subtotal=Decimal("250.00"),
            sales_tax=Decimal("0.00"),
            total=Decimal("250.00"),
            lines=(
                InvoiceLine(
                    st_id=n,
                    sku_name="Labor",
                    quantity=Decimal("2"),
                    price=Decimal("125.00"),
                    total=Decimal("250.00"),
                ),
            ),
            modified_on=MONDAY,
        )
        invoices.append(
            StEvent(
                tenant="7000001",
                entity="invoice",
                st_id=invoice.st_id,
                version=MONDAY.isoformat(),
                record=invoice,
            )
        )
    return invoices + customers


async def queue(nats_url: str, connection: Connection, records: int) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await declare_all(js)
        await (await ConnectionStore.open(js)).put(connection)
        acks = []
        for event in events(records):
            for command in map_event(event, connection):
                acks.append(
                    js.publish(
                        command_subject(connection.name),
                        command.model_dump_json().encode(),
                        headers={"Nats-Msg-Id": command.command_id},
                    )
                )
        await asyncio.gather(*acks)
    finally:
        await nc.close()


class CountingQuickBooks:
    """The company's qbXML processor, keeping how many requests each message carried."""

    def __init__(self, company: Company) -> None:
        self._processor = QbxmlProcessor(company)
        self.sizes: list[int] = []

    def process(self, request_xml: str) -> str:
        if "HostQueryRq" not in request_xml:  # the Web Connector's own first question
            self.sizes.append(request_xml.count("requestID="))
        return self._processor.process(request_xml)


def run_part(
    workdir: Path,
    label: str,
    records: int,
    batch: int,
    faults: str | None,
    slow_ms: float,
    seed: int,
) -> None:
    connection = Connection.create("bench", "7000001", "bench-qb", PASSWORD)
    connection.company_file = COMPANY_FILE
    with EmbeddedNats(store_dir=workdir / f"nats-{label}") as server:
        asyncio.run(queue(server.url, connection, records))
        port = free_port()
        url = f"http://127.0.0.1:{port}/qbwc"
        env = {
            **os.environ,
            "NATS_URL": server.url,
            "QBWC_PORT": str(port),
            "QBWC_PUBLIC_URL": url,
            "QBWC_BATCH_SIZE": str(batch),
            "QBWC_CHANGES_EVERY_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        with (
            child(
                gateway_command(None),
                env,
                f"http://127.0.0.1:{port}/healthz",
                workdir / f"gw-{label}.log",
            ),
            Company(str(workdir / f"{label}.sqlite")) as company,
        ):
            seed_contractor(company)
            before = in_msgs(server.monitor_url)
            with WebConnectorDriver(
                url,
                "bench-qb",
                PASSWORD,
                company,
                company_file=COMPANY_FILE,
                faults=faults,
                latency_ms=slow_ms if faults else None,
                request_timeout=60,
                seed=seed,
                sleep=lambda _: None,  # QuickBooks' time is simulated, not waited
            ) as driver:
                quickbooks = CountingQuickBooks(company)
                driver.processor = quickbooks  # type: ignore[assignment]
                sizes = quickbooks.sizes
                reports: list[CycleReport] = []
                while len(company.invoices()) < records // 2 or reports[-1].percent != 100:
                    if len(reports) >= 200:
                        raise SystemExit(f"{label}: not posted after 200 cycles")
                    reports.append(driver.run_cycle())
            msgs = in_msgs(server.monitor_url) - before
            customers = len(company.customers())
            invoices = len(company.invoices())
    if faults is None:
        bound = math.ceil(records / batch) + 2
        print(
            f"round trips: {records} records (batch {batch}) posted in {len(sizes)} messages, "
            f"{len(reports)} session(s); bound ceil({records}/{batch}) + 2 = {bound}: "
            f"{'met' if len(sizes) <= bound else 'NOT met'}; {customers} customers and "
            f"{invoices} invoices in QuickBooks, each once; "
            f"{msgs / records:.1f} NATS messages from the gateway per record"
        )
        return
    timed_out = sum(1 for report in reports if report.timeouts)
    print(
        f"slow QuickBooks ({slow_ms:.0f} ms per request, the Web Connector gives up after "
        f"60 s; seed {seed}): {records} records posted in {len(reports)} cycles; "
        f"{timed_out} message(s) given up on; message sizes {compress(sizes)}; "
        f"{customers} customers and {invoices} invoices in QuickBooks, each once"
    )


def compress(sizes: list[int]) -> str:
    """'40, 20, 10, 5, 9, 4, 8, 4, 7 x 60' (runs of one size folded)."""
    runs: list[tuple[int, int]] = []
    for size in sizes:
        if runs and runs[-1][0] == size:
            runs[-1] = (size, runs[-1][1] + 1)
        else:
            runs.append((size, 1))
    return ", ".join(f"{size} x {count}" if count > 1 else str(size) for size, count in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--slow-records", type=int, default=500)
    parser.add_argument("--slow-ms", type=float, default=2000.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"bench.gateway.backlog on {sys.version.split()[0]}, {os.cpu_count()} cores")
    workdir = Path(tempfile.mkdtemp(prefix="mlc-bench-backlog-"))
    try:
        run_part(workdir, "trips", args.records, args.batch, None, 0, args.seed)
        run_part(workdir, "slow", args.slow_records, args.batch, "slow:1", args.slow_ms, args.seed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
