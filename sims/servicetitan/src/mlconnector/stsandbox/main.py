"""`mlconnector-st-sandbox`: serve the sandbox until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from mlconnector.common.logs import setup_logging
from mlconnector.stsandbox.app import create_app
from mlconnector.stsandbox.settings import SandboxSettings

log = logging.getLogger("mlconnector.stsandbox")


class _Server(uvicorn.Server):
    # uvicorn re-raises a captured SIGTERM after shutdown, which turns a clean stop into
    # exit status -15; we handle the signals ourselves and exit 0.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: SandboxSettings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # our set-up (common.logs), plain lines in files
        lifespan="off",
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("stopping the ServiceTitan sandbox")
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    log.info(
        "ServiceTitan sandbox on http://%s:%s (tenant %s, seed %s, page size %s)",
        settings.host,
        settings.port,
        settings.tenant,
        settings.seed,
        settings.page_size,
    )
    await server.serve()


def main() -> None:
    settings = SandboxSettings()
    setup_logging(settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
