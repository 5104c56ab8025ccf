"""`mlconnector up` as a newcomer runs it: records flow within a minute, Ctrl-C leaves nothing,
and running it again on the same data posts nothing twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mlconnector.qbsim.company import Company

from .conftest import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to prove no process is left"),
]

MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")


def _processes_mentioning(marker: str) -> list[int]:
    """Every process whose command line or environment names our private home directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            text = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in text:
            found.append(int(proc.name))
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Up:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.ports = {
            "QBWC_PORT": free_port(),
            "INGEST_PORT": free_port(),
            "AUDIT_PORT": free_port(),
            "STSANDBOX_PORT": free_port(),
        }
        self.env = {
            **os.environ,
            "MLCONNECTOR_HOME": str(home),
            **{k: str(v) for k, v in self.ports.items()},
        }
        for name in ("NATS_URL", "ST_CLIENT_ID", "AUDIT_DATABASE_URL", "AUDIT_URL"):
            self.env.pop(name, None)
        self.audit = f"http://127.0.0.1:{self.ports['AUDIT_PORT']}"
        self.process = subprocess.Popen(
            [MLCONNECTOR, "up", "--every", "1"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def records(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        try:
            with urllib.request.urlopen(f"{self.audit}/api/records?{query}", timeout=2) as resp:
                return list(json.loads(resp.read()))
        except OSError:
            return []

    def wait_for_posted_invoices(self, count: int, timeout: float = 90) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        posted: list[dict[str, Any]] = []
        while time.monotonic() < deadline and self.process.poll() is None:
            posted = self.records(entity="invoice", status="posted")
            if len(posted) >= count:
                break
            time.sleep(1)
        assert self.process.poll() is None, self.process.communicate()[0]
        return posted

    def wait_started(self, timeout: float = 60) -> None:
        """Until every service is up (`up` writes its state file last)."""
        deadline = time.monotonic() + timeout
        while not (self.home / "run.json").exists():
            assert self.process.poll() is None, self.process.communicate()[0]
            assert time.monotonic() < deadline, "mlconnector up did not finish starting"
            time.sleep(0.2)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        # No NATS_URL: the commands find the running system through `up`'s state file.
        return subprocess.run(
            [MLCONNECTOR, *args], env=self.env, capture_output=True, text=True, timeout=60
        )

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, output
        return output


def _demo_company(home: Path) -> Company:
    return Company(home / "quickbooks-demo.sqlite")


def test_up_posts_the_demo_day_and_ctrl_c_leaves_no_process_or_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    up = Up(home)
    try:
        posted = up.wait_for_posted_invoices(5)
        assert sorted(r["st_id"] for r in posted) == [5001, 5002, 5003, 5004, 5006]
        demo = next(r for r in posted if r["st_id"] == 5001)
        assert demo["summary"] == {
            "number": "5001",
            "customer": "Hernandez, Maria",
            "date": "2025-03-14",
            "total": "408.05",
        }
        [invoice] = [i for i in _demo_company(home).invoices() if i.ref_number == "5001"]
        assert demo["qb_id"] == invoice.txn_id
        assert invoice.total == Decimal("408.05")
        # The rest of the demo day: 3 vendors, 3 payments (9001 pays 5001 in full), 2 bills.
        expected = {"vendor": 3, "payment": 3, "bill": 2, "customer": 4}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = {e: len(up.records(entity=e, status="posted")) for e in expected}
            if counts == expected:
                break
            time.sleep(1)
        assert counts == expected
        [invoice] = [i for i in _demo_company(home).invoices() if i.ref_number == "5001"]
        assert invoice.balance_remaining == Decimal("0.00")
        assert sorted(b.amount_due for b in _demo_company(home).bills()) == [
            Decimal("215.08"),
            Decimal("226.67"),
        ]
        assert _processes_mentioning(str(home)), "the services should be running now"

        status = up.cli("status")
        assert status.returncode == 0, status.stderr
        assert f"audit          up       {up.audit}" in status.stdout
        assert "qbwc-gateway   up" in status.stdout
        # The connection's health: the Web Connector calls, nothing waits or failed.
        assert "connection demo (tenant 1234567, times in UTC)" in status.stdout
        assert "  records: 0 pending, 0 waiting, 0 failed" in status.stdout
        assert "WARNING" not in status.stdout

        # Replaying the whole stream re-maps every event; nothing reaches QuickBooks twice.
        replay = up.cli("replay")
        assert replay.returncode == 0, replay.stderr
        assert json.loads(replay.stdout)["republished"] == 17
        time.sleep(5)  # several Web Connector cycles at --every 1
        assert len(_demo_company(home).invoices()) == 5
        assert len(_demo_company(home).customers()) == 4
        assert len(_demo_company(home).payments()) == 3
        assert len(_demo_company(home).bills()) == 2
    finally:
        output = up.stop()
    assert f"audit dashboard      {up.audit}/" in output
    assert "Stopped." in output
    assert _processes_mentioning(str(home)) == []
    assert all(_port_free(port) for port in up.ports.values())
    assert not (home / "run.json").exists()

    # Same data, new ports: the stream, id map, audit database and company file carry over.
    again = Up(home)
    try:
        assert len(again.wait_for_posted_invoices(5)) == 5
        # Audit answers from its carried-over database before the other services are up; this
        # run is about what the running system does, so let it finish starting first.
        again.wait_started()
        time.sleep(4)
        assert len(_demo_company(home).invoices()) == 5
        assert len(_demo_company(home).payments()) == 3
        assert len(_demo_company(home).bills()) == 2
        assert len(again.records(entity="invoice", status="posted")) == 5
    finally:
        again.stop()
    assert _processes_mentioning(str(home)) == []
