"""`mlconnector-sim-quickbooks`: run simulated Web Connector cycles against a gateway.

    mlconnector-sim-quickbooks --gateway http://localhost:8080/qbwc --user acme \\
        [--password P | env QBSIM_PASSWORD] [--company company.sqlite] [--cycles N | --every S]
    mlconnector-sim-quickbooks --company company.sqlite --list invoices|customers

`run(argv)` is what `mlconnector sim quickbooks ...` delegates to.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mlconnector.qbsim.company import Company, seed_contractor
from mlconnector.qbsim.driver import DEFAULT_COMPANY_FILE, CycleReport, WebConnectorDriver

PASSWORD_ENV = "QBSIM_PASSWORD"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlconnector-sim-quickbooks",
        description="A simulated QuickBooks Desktop company and Web Connector.",
    )
    parser.add_argument("--gateway", help="the gateway's QBWC SOAP URL (AppURL)")
    parser.add_argument("--user", help="the Web Connector user name (.qwc UserName)")
    parser.add_argument(
        "--password",
        help=f"the Web Connector password (default: ${PASSWORD_ENV}, kept off the command line)",
    )
    parser.add_argument(
        "--company",
        default=":memory:",
        help="SQLite company file; created and seeded with a contractor's lists if new",
    )
    parser.add_argument(
        "--company-file-name",
        default=DEFAULT_COMPANY_FILE,
        help="the .QBW path the Web Connector reports as strCompanyFileName",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--cycles", type=int, default=None, help="run N cycles, then exit")
    when.add_argument("--every", type=float, default=None, help="run a cycle every S seconds")
    parser.add_argument(
        "--list", choices=("invoices", "customers"), help="print the company's records and exit"
    )
    return parser


def open_company(path: str) -> Company:
    company = Company(path)
    if company.is_empty:
        seed_contractor(company)
    return company


def print_report(report: CycleReport, out: TextIO) -> None:
    print(f"cycle: {report.summary()}", file=out)
    for request in report.requests:
        print(
            f"  {request.response_type:<18} {request.status_code:>5} "
            f"{request.name or '-':<30} {request.txn_or_list_id or '-'}"
            + ("" if request.status_code == 0 else f"  {request.status_message}"),
            file=out,
        )


def print_listing(company: Company, what: str, out: TextIO) -> None:
    if what == "customers":
        for customer in company.customers():
            print(
                f"{customer.core.list_id:<22} {customer.full_name:<41} "
                f"{customer.total_balance:>12.2f}{'' if customer.is_active else '  (inactive)'}",
                file=out,
            )
        return
    for invoice in company.invoices():
        print(
            f"{invoice.txn_id:<18} {invoice.ref_number or '-':<11} {invoice.txn_date} "
            f"{invoice.customer.full_name:<30} subtotal {invoice.subtotal:>10.2f} "
            f"tax {invoice.sales_tax_total:>8.2f} total {invoice.total:>10.2f} "
            f"open {invoice.balance_remaining:>10.2f}",
            file=out,
        )


def run(
    argv: Sequence[str], *, out: TextIO | None = None, stop: threading.Event | None = None
) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.company != ":memory:":
        Path(args.company).parent.mkdir(parents=True, exist_ok=True)
    with open_company(args.company) as company:
        if args.list:
            print_listing(company, args.list, out)
            return 0
        password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV)
        if not args.gateway or not args.user or password is None:
            parser.print_usage(sys.stderr)
            print(
                "error: --gateway, --user and a password (--password or "
                f"${PASSWORD_ENV}) are required to run cycles",
                file=sys.stderr,
            )
            return 2
        with WebConnectorDriver(
            args.gateway, args.user, password, company, company_file=args.company_file_name
        ) as driver:

            def show(report: CycleReport) -> None:
                print_report(report, out)
                out.flush()

            if args.every is not None:
                try:
                    reports = driver.run_every(args.every, on_report=show, stop=stop)
                except KeyboardInterrupt:
                    return 0
            else:
                reports = driver.run_cycles(args.cycles or 1, on_report=show)
        return 0 if all(r.ok for r in reports) else 1


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
