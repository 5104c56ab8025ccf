"""`mlconnector up` as a newcomer runs it: records flow within a minute, Ctrl-C leaves nothing,
and running it again on the same data posts nothing twice."""

from __future__ import annotations

import json
import os
import re
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
            # Its own process group, as a shell gives a command it runs in the foreground.
            start_new_session=True,
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
        """Ctrl-C as a terminal sends it: SIGINT to every process of the foreground group."""
        os.killpg(self.process.pid, signal.SIGINT)
        output, _ = self.process.communicate(timeout=90)
        assert self.process.returncode == 0, output
        return output

    def log_lines(self) -> dict[str, list[str]]:
        return {
            path.name: path.read_text(errors="replace").splitlines()
            for path in sorted((self.home / "logs").glob("*.log"))
        }


def _assert_clean_logs(up: Up) -> None:
    """No traceback anywhere (a service that lost NATS before it stopped logs one), and no
    colour escape codes in files."""
    logs = up.log_lines()
    assert set(logs) == {
        "audit.log",
        "mapper.log",
        "qbwc-gateway.log",
        "st-ingest.log",
        "st-sandbox.log",
        "web-connector-sim.log",
    }
    for name, lines in logs.items():
        text = "\n".join(lines)
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        assert "\x1b[" not in text, f"{name} has colour codes"
    for name in ("audit.log", "mapper.log", "qbwc-gateway.log", "st-ingest.log"):
        assert logs[name][-1].endswith(" stopped"), (
            f"{name} did not stop cleanly: {logs[name][-3:]}"
        )


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
        assert status.returncode == 0, status.stdout + status.stderr
        lines = status.stdout.splitlines()
        assert re.fullmatch(
            r"ml-connector, found through `mlconnector up` \(process \d+\):", lines[0]
        )
        assert [line.split()[0] for line in lines[1:5]] == [
            "NATS",
            "audit",
            "qbwc-gateway",
            "st-ingest",
        ]
        assert f"  audit          {up.audit:32} up" in lines
        assert all(line.endswith(" up") for line in lines[1:5]), lines
        # 4 customers, 3 vendors, 5 invoices, 3 payments, 2 bills
        assert lines[5] == "records: 17 (17 posted)"
        # The connection's health: the Web Connector calls, nothing waits or failed.
        assert "connection demo (tenant 1234567, times in UTC)" in lines
        assert "  records: 0 pending, 0 waiting, 0 failed" in lines
        assert "WARNING" not in status.stdout

        # The .qwc names the gateway where it really runs (QBWC_PORT), not a default port.
        qwc = up.cli("qwc", "demo")
        assert qwc.returncode == 0, qwc.stderr
        gateway = f"http://127.0.0.1:{up.ports['QBWC_PORT']}"
        assert f"<AppURL>{gateway}/qbwc</AppURL>" in qwc.stdout
        assert f"<AppSupport>{gateway}/healthz</AppSupport>" in qwc.stdout

        # Replaying the whole stream re-maps every event; nothing reaches QuickBooks twice.
        replay = up.cli("replay")
        assert replay.returncode == 0, replay.stderr
        assert re.fullmatch(
            r"Replayed 17 ServiceTitan events \(replay [0-9a-f]{12}\): the mapper maps them "
            r"again, and records already in QuickBooks are not posted twice; `mlconnector "
            r"status` shows the records\.\n",
            replay.stdout,
        ), replay.stdout
        time.sleep(5)  # several Web Connector cycles at --every 1
        assert len(_demo_company(home).invoices()) == 5
        assert len(_demo_company(home).customers()) == 4
        assert len(_demo_company(home).payments()) == 3
        assert len(_demo_company(home).bills()) == 2
    finally:
        output = up.stop()
    assert f"audit dashboard      {up.audit}/" in output
    assert "Stopped." in output
    _assert_clean_logs(up)
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

        # Idle: nothing new in ServiceTitan, nothing for QuickBooks. st-ingest polls every 3 s
        # and the simulated Web Connector checks in every second, and the services stay quiet:
        # at most the gateway's line per Web Connector check-in.
        before = {name: len(lines) for name, lines in again.log_lines().items()}
        time.sleep(10)
        grown = {name: len(lines) - before[name] for name, lines in again.log_lines().items()}
        check_ins = grown.pop("web-connector-sim.log")
        assert check_ins >= 3, "the simulated Web Connector should have checked in"
        assert grown.pop("qbwc-gateway.log") <= check_ins
        assert grown == {"audit.log": 0, "mapper.log": 0, "st-ingest.log": 0, "st-sandbox.log": 0}
    finally:
        again.stop()
    _assert_clean_logs(again)
    assert _processes_mentioning(str(home)) == []


def test_up_names_the_ports_in_use_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "MLCONNECTOR_HOME": str(tmp_path),
            "QBWC_PORT": str(free_port()),
            "INGEST_PORT": str(free_port()),
            "STSANDBOX_PORT": str(free_port()),
            "AUDIT_PORT": str(port),
        }
        env.pop("NATS_URL", None)
        result = subprocess.run(
            [MLCONNECTOR, "up"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert result.stderr == (
        f"Cannot start: port audit ({port}) is in use; stop what holds them, or set "
        "QBWC_PORT / INGEST_PORT / AUDIT_PORT / STSANDBOX_PORT to free ones.\n"
    )
    assert not (tmp_path / "nats").exists()
