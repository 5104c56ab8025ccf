"""`mlconnector-audit`: the HTTP API/dashboard and the stream consumers in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from mlconnector.audit.api import create_app
from mlconnector.audit.consumer import AuditConsumers
from mlconnector.audit.db import AuditDb
from mlconnector.audit.gctune import tune_after_start
from mlconnector.audit.settings import AuditSettings
from mlconnector.common.logs import setup_logging

log = logging.getLogger("mlconnector.audit")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops as a whole."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: AuditSettings, stop: asyncio.Event) -> None:
    """Migrate the database, consume the four streams and serve HTTP until `stop` is set."""
    db = AuditDb(settings.resolved_database_url(), settings.database_schema)
    await db.migrate()
    consumers = AuditConsumers(db, settings)
    try:
        # Connects the broker, declares the streams, starts the four subscribers; replay
        # publishes over the same connection.
        await consumers.start()
        server = _Server(
            uvicorn.Config(
                create_app(
                    db,
                    consumers.js,
                    time_zone=settings.time_zone,
                    connections_ttl=settings.connections_ttl_seconds,
                ),
                host=settings.host,
                port=settings.port,
                log_config=None,  # our set-up (common.logs), plain lines in files
                lifespan="off",
            )
        )
        web = asyncio.create_task(server.serve())
        tune_after_start()
        log.info("audit listening on http://%s:%s", settings.host, settings.port)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({web, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        server.should_exit = True
        await web
        stopper.cancel()
    finally:
        await consumers.stop()
        await db.close()


async def _main(settings: AuditSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)
    log.info("audit stopped")


def main() -> None:
    settings = AuditSettings()
    setup_logging(settings.log_level)
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
