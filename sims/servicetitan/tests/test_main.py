"""`mlconnector-st-sandbox` as a real process: serves, then stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlconnector.stsandbox.testing import free_port


def console_script() -> str:
    return str(Path(sys.executable).parent / "mlconnector-st-sandbox")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_console_entry_serves_and_stops_on_signal(sig: signal.Signals) -> None:
    port = free_port()
    env = {
        **os.environ,
        "STSANDBOX_PORT": str(port),
        "STSANDBOX_TENANT": "42",
        "STSANDBOX_PAGE_SIZE": "3",
    }
    process = subprocess.Popen(
        [console_script()], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.1)
        assert health.json() == {"status": "ok", "tenant": "42"}
        token = httpx.post(
            f"http://127.0.0.1:{port}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            },
        ).json()["access_token"]
        page = httpx.get(
            f"http://127.0.0.1:{port}/crm/v2/tenant/42/export/customers",
            headers={"Authorization": f"Bearer {token}", "ST-App-Key": "sandbox-app-key"},
        ).json()
        assert [c["id"] for c in page["data"]] == [1001, 1002, 1003]
        process.send_signal(sig)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
