"""`mlconnector up` as a newcomer runs it: records flow within a minute, Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import free_port

pytestmark = [pytest.mark.e2e]

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
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to prove no process is left")
def test_up_posts_the_demo_day_and_ctrl_c_leaves_no_process_or_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = {
        "QBWC_PORT": free_port(),
        "INGEST_PORT": free_port(),
        "AUDIT_PORT": free_port(),
        "STSANDBOX_PORT": free_port(),
    }
    env = {**os.environ, "MLCONNECTOR_HOME": str(home), **{k: str(v) for k, v in ports.items()}}
    for name in ("NATS_URL", "ST_CLIENT_ID", "AUDIT_DATABASE_URL"):
        env.pop(name, None)
    up = subprocess.Popen(
        [MLCONNECTOR, "up", "--every", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    audit = f"http://127.0.0.1:{ports['AUDIT_PORT']}"
    posted: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and up.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"{audit}/api/records?entity=invoice&status=posted", timeout=2
                ) as response:
                    posted = json.loads(response.read())
            except OSError:
                posted = []
            if len(posted) == 4:
                break
            time.sleep(1)
        assert up.poll() is None, up.communicate()[0]
        assert sorted(r["st_id"] for r in posted) == [5001, 5002, 5003, 5004]  # type: ignore[type-var]
        demo = next(r for r in posted if r["st_id"] == 5001)
        assert demo["qb_id"]
        assert demo["summary"] == {
            "number": "5001",
            "customer": "Hernandez, Maria",
            "date": "2025-03-14",
            "total": "408.05",
        }
        assert _processes_mentioning(str(home)), "the services should be running now"
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert f"audit dashboard      {audit}/" in output
    assert "Stopped." in output
    assert _processes_mentioning(str(home)) == []
    assert all(_port_free(port) for port in ports.values())
    assert not (home / "run.json").exists()
