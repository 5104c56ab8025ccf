"""Run an ASGI app on a real socket in a background thread (tests, demos, benchmarks)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn

from mlconnector.stsandbox.app import add_tenant, create_app
from mlconnector.stsandbox.exchanges import Exchange
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.store import SandboxStore


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ThreadServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ThreadedServer:
    """`with ThreadedServer(app) as server: server.url` -> http://127.0.0.1:<free port>."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = _ThreadServer(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RunningSandbox(ThreadedServer):
    """The sandbox on a free port, with its settings and store at hand."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.store = SandboxStore(
            seed=self.settings.seed,
            page_size=self.settings.page_size,
            token_ttl_seconds=self.settings.token_ttl_seconds,
            rate_limit_per_second=self.settings.rate_limit_per_second,
        )
        self.app = create_app(self.settings, self.store)
        super().__init__(self.app)

    def add_tenant(
        self, tenant: str, client_id: str, client_secret: str, seed: str = "demo"
    ) -> SandboxStore:
        """Serve another tenant, with its own client credentials and records."""
        store = SandboxStore(
            seed=seed,
            page_size=self.settings.page_size,
            token_ttl_seconds=self.settings.token_ttl_seconds,
            rate_limit_per_second=self.settings.rate_limit_per_second,
        )
        return add_tenant(self.app, tenant, client_id, client_secret, store)

    @property
    def exchanges(self) -> list[Exchange]:
        """Every call so far (needs `record_exchanges=True` in the settings)."""
        found: list[Exchange] = self.app.state.exchanges
        return found

    def __enter__(self) -> RunningSandbox:
        self.start()
        return self
