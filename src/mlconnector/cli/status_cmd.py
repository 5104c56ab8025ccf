"""`mlconnector status`: is the system running, does each part answer, what is waiting.

Shape, so that more can be reported without touching the rest: `gather(system)` builds a
`StatusReport` (one field per section), `render(report)` turns it into lines for people, and
`--json` prints `report.to_json()`. A new section (e.g. each connection's health from the audit
API) is a field, a few lines in `gather` and a block in `render`.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

import typer

from mlconnector.cli.health_view import health_lines
from mlconnector.cli.output import EXIT_FAILED, JsonFlag, fail, print_json
from mlconnector.cli.runtime import System, connect_nats, find_system

RECORDS_LIMIT = 5000  # the audit API's largest page


@dataclass
class ServiceHealth:
    name: str
    address: str
    up: bool
    detail: str = ""  # why it is not up, for people


@dataclass
class StatusReport:
    found_by: str
    services: list[ServiceHealth] = field(default_factory=list)
    # Audit's records by status ("posted": 17, "failed": 1); None when audit did not answer.
    records: dict[str, int] | None = None
    records_capped: bool = False  # more records than one page: the counts are of the newest
    # Each connection's health from audit's /api/health (None when audit did not answer).
    health: list[dict[str, Any]] | None = None

    @property
    def healthy(self) -> bool:
        return all(service.up for service in self.services)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def _http_health(name: str, base: str) -> ServiceHealth:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return ServiceHealth(name, base, response.status == 200)
    except urllib.error.HTTPError as exc:
        return ServiceHealth(name, base, False, f"answered HTTP {exc.code}")
    except OSError:
        return ServiceHealth(name, base, False, "does not answer")


def _nats_health(url: str) -> ServiceHealth:
    async def ping() -> bool:
        nc = await connect_nats(url, connect_timeout=2)
        if nc is None:
            return False
        await nc.close()
        return True

    if asyncio.run(ping()):
        return ServiceHealth("NATS", url, True)
    return ServiceHealth("NATS", url, False, "does not answer")


def _record_counts(audit_url: str) -> tuple[dict[str, int] | None, bool]:
    try:
        with urllib.request.urlopen(
            f"{audit_url}/api/records?limit={RECORDS_LIMIT}", timeout=5
        ) as response:
            records = json.loads(response.read())
    except (OSError, ValueError):
        return None, False
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    return dict(sorted(counts.items())), len(records) >= RECORDS_LIMIT


def _health(audit_url: str) -> list[dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"{audit_url}/api/health", timeout=5) as response:
            found = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, list) else None


def gather(system: System) -> StatusReport:
    """Ask each part of `system` whether it answers, and audit what its records are."""
    report = StatusReport(found_by=system.found_by)
    if system.nats_url:
        report.services.append(_nats_health(system.nats_url))
    report.services.append(_http_health("audit", system.audit_url))
    if system.gateway_url:
        report.services.append(_http_health("qbwc-gateway", system.gateway_url))
    if system.ingest_url:
        report.services.append(_http_health("st-ingest", system.ingest_url))
    report.records, report.records_capped = _record_counts(system.audit_url)
    report.health = _health(system.audit_url)
    return report


def render(report: StatusReport) -> list[str]:
    lines = [f"ml-connector, found through {report.found_by}:"]
    for service in report.services:
        state = "up" if service.up else f"DOWN ({service.detail})"
        lines.append(f"  {service.name:14} {service.address:32} {state}")
    if report.records is None:
        lines.append("records: unknown (audit does not answer)")
    else:
        total = sum(report.records.values())
        by_status = ", ".join(f"{count} {status}" for status, count in report.records.items())
        newest = f"the newest {total}" if report.records_capped else str(total)
        lines.append(f"records: {newest} ({by_status})" if total else "records: none yet")
    if report.health is not None:
        lines += health_lines(report.health)
    return lines


def status(json_output: JsonFlag = False) -> None:
    """Is everything up, and what is waiting? Exit 0: all up; 1: a part is down."""
    system = find_system()
    if system is None:
        fail(
            "no running ml-connector found: start it with `mlconnector up`, or set AUDIT_URL "
            "and NATS_URL to a running system's."
        )
    report = gather(system)
    if json_output:
        print_json(report.to_json())
    else:
        typer.echo("\n".join(render(report)))
    if not report.healthy:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command()(status)
