"""`mlconnector sim quickbooks` (also `mlconnector-sim-quickbooks`): a simulated QuickBooks
company file and Web Connector.

    mlconnector sim quickbooks --gateway http://localhost:8080/qbwc --user acme \\
        [--password P | env QBSIM_PASSWORD] [--company company.sqlite] [--cycles N | --every S]
        [--latency MS] [--faults SPEC] [--seed N] [--http-timeout S] [--request-timeout S]
    mlconnector sim quickbooks company [--company company.sqlite] \\
        invoices|credit-memos|customers|vendors|payments|bills|accounts
    mlconnector sim quickbooks company [--company company.sqlite] closing-date [DATE|none]
    mlconnector sim quickbooks --company company.sqlite --list invoices   (older form)

`run(argv)` is what `mlconnector sim quickbooks ...` delegates to.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mlconnector.qbsim import inspect_cli
from mlconnector.qbsim.company import Company, seed_contractor
from mlconnector.qbsim.cycle_report import CycleReport
from mlconnector.qbsim.driver import (
    DEFAULT_COMPANY_FILE,
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SLOW_LATENCY_MS,
    WebConnectorDriver,
)
from mlconnector.qbsim.faults import SPEC_HELP, FaultSpec, FaultSpecError

PASSWORD_ENV = "QBSIM_PASSWORD"
PROG = "mlconnector sim quickbooks"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "A simulated QuickBooks Desktop company and Web Connector: runs update cycles "
            "against a gateway's QBWC SOAP URL over HTTP, with reproducible faults. "
            f"`{PROG} company --help` prints the company file's records."
        ),
        epilog=SPEC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="the .QBW path QuickBooks has open (sent as strCompanyFileName; authenticate "
        "naming another path gets connectionError 0x8004040A)",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--cycles", type=int, default=None, help="run N cycles back to back, then exit"
    )
    when.add_argument(
        "--every",
        type=float,
        default=None,
        help="run a cycle every S seconds until interrupted (a postpone or min-run interval "
        "from authenticate delays the next cycle)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=None,
        metavar="MS",
        help="QuickBooks' time per request in a slow message; without `slow` in --faults, "
        f"every message is slow (default for `slow`: {DEFAULT_SLOW_LATENCY_MS:g} ms)",
    )
    parser.add_argument(
        "--faults", default=None, metavar="SPEC", help="faults to inject (see below)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of every fault decision (default: a random one, printed so the run can be "
        "repeated)",
    )
    parser.add_argument(
        "--http-timeout",
        type=float,
        default=DEFAULT_HTTP_TIMEOUT,
        metavar="S",
        help=f"HTTP timeout of each SOAP call (default {DEFAULT_HTTP_TIMEOUT:g})",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT,
        metavar="S",
        help="how long the Web Connector waits for QuickBooks to process one message "
        f"(default {DEFAULT_REQUEST_TIMEOUT:g}, as the real one)",
    )
    parser.add_argument(
        "--list", choices=inspect_cli.LISTS, help=f"same as `{PROG} company LIST`, then exit"
    )
    return parser


def open_company(path: str) -> Company:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    company = Company(path)
    if company.is_empty:
        seed_contractor(company)
    return company


def print_report(report: CycleReport, out: TextIO) -> None:
    for line in report.lines():
        print(line, file=out)


def print_listing(company: Company, what: str, out: TextIO) -> None:
    inspect_cli.print_table(company, what, out)


def run(
    argv: Sequence[str], *, out: TextIO | None = None, stop: threading.Event | None = None
) -> int:
    out = out or sys.stdout
    argv = list(argv)
    if argv[:1] == ["company"]:
        return inspect_cli.run(argv[1:], out=out, open_company=open_company)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        return inspect_cli.run(
            ["--company", args.company, args.list], out=out, open_company=open_company
        )
    try:
        faults = FaultSpec.parse(args.faults)
    except FaultSpecError as exc:
        parser.error(f"--faults: {exc}")
    if args.latency is not None and args.latency < 0:
        parser.error("--latency must be 0 or more milliseconds")
    seed = args.seed
    if seed is None and (faults or args.latency):
        seed = secrets.randbelow(2**31)
    password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV)
    if not args.gateway or not args.user or password is None:
        parser.print_usage(sys.stderr)
        print(
            "error: --gateway, --user and a password (--password or "
            f"${PASSWORD_ENV}) are required to run cycles",
            file=sys.stderr,
        )
        return 2
    with (
        open_company(args.company) as company,
        WebConnectorDriver(
            args.gateway,
            args.user,
            password,
            company,
            company_file=args.company_file_name,
            timeout=args.http_timeout,
            request_timeout=args.request_timeout,
            latency_ms=args.latency,
            faults=faults,
            seed=seed,
        ) as driver,
    ):
        if driver.faults:
            print(f"faults: {driver.faults} (seed {seed})", file=out)

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
