"""`mlconnector-st-ingest`: the webhook server and the export poll loop in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Iterator

import httpx
import uvicorn

from mlconnector.common.broker import jetstream, make_broker
from mlconnector.common.idmap import IdMap
from mlconnector.common.logs import setup_logging
from mlconnector.common.streams import KV_ST_STATE, KV_WEBHOOK_IDS, check_token, declare_all
from mlconnector.common.telemetry import make_tracer_provider
from mlconnector.ingest.app import create_app
from mlconnector.ingest.changes import ChangeWriter
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.state import StState
from mlconnector.ingest.tenants import TenantDirectory
from mlconnector.ingest.writeback import WriteBackWorker

log = logging.getLogger("mlconnector.ingest")

STOP_GRACE_SECONDS = 10.0


class _Server(uvicorn.Server):
    # uvicorn would install its own signal handlers and re-raise the signal after shutdown;
    # the whole process (poll loop included) stops on ours instead, and exits 0.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_settings(settings: IngestSettings) -> None:
    """ST_TENANT (the embedded single-tenant default) needs its three credentials; without
    ST_TENANT st-ingest serves the connections' tenants with their stored credentials."""
    if not settings.st_tenant:
        return
    missing = [
        name
        for name, value in (
            ("ST_TENANT", settings.st_tenant),
            ("ST_CLIENT_ID", settings.st_client_id),
            ("ST_CLIENT_SECRET", settings.st_client_secret.get_secret_value()),
            ("ST_APP_KEY", settings.st_app_key),
        )
        if not value
    ]
    if missing:
        raise SystemExit(f"st-ingest: set {', '.join(missing)} (ServiceTitan credentials)")
    try:
        check_token("ST_TENANT", settings.st_tenant)
    except ValueError as exc:
        raise SystemExit(f"st-ingest: {exc}") from exc


async def run(settings: IngestSettings, stop: asyncio.Event | None = None) -> None:
    """Serve and poll until `stop` is set (SIGTERM/SIGINT set it when run from `main`)."""
    check_settings(settings)
    stop = stop or asyncio.Event()
    # Our own provider (not one make_broker makes and forgets): shut down at the end, it
    # exports the last poll's spans before the process exits.
    provider = make_tracer_provider(
        settings.otel_service_name or "st-ingest", settings.otel_exporter_otlp_endpoint
    )
    broker = make_broker(settings, "st-ingest", tracer_provider=provider)
    await broker.connect()
    http = httpx.AsyncClient(timeout=settings.st_http_timeout_seconds)
    directory: TenantDirectory | None = None
    workers: list[asyncio.Task[None]] = []
    try:
        # Publishing goes through the broker (traces); KV and stream declaration use its
        # JetStream context directly, on the same connection.
        js = jetstream(broker)
        await declare_all(js)
        publisher = EventPublisher(broker)
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        state = StState(await js.key_value(KV_ST_STATE), owner)
        directory = TenantDirectory(settings, js, http, publisher, state)
        await directory.refresh()
        served = directory
        app = create_app(
            settings,
            served.trigger,
            secret_of=served.webhook_secret,
            served=lambda tenant: tenant in served.tenants,
            seen=await js.key_value(KV_WEBHOOK_IDS),
            health=served.health,
        )
        server = _Server(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,  # our set-up (common.logs), plain lines in files
                lifespan="off",
            )
        )

        async def serve() -> None:
            try:
                await server.serve()
            finally:
                # The server ending for any reason ends the service.
                stop.set()

        log.info(
            "st-ingest on http://%s:%s for tenants %s, polling every %.0f s",
            settings.host,
            settings.port,
            ", ".join(sorted(directory.tenants)) or "(none yet)",
            settings.st_poll_seconds,
        )
        writeback = WriteBackWorker(
            js,
            directory,
            publisher,
            state,
            attempts=settings.st_writeback_attempts,
            retry_seconds=settings.st_writeback_retry_seconds,
        )
        changes = ChangeWriter(
            js,
            directory,
            publisher,
            state,
            await IdMap.open(js),
            attempts=settings.st_writeback_attempts,
            retry_seconds=settings.st_writeback_retry_seconds,
        )
        serving = asyncio.create_task(serve())
        workers = [
            asyncio.create_task(directory.run(stop)),
            asyncio.create_task(writeback.run(stop)),
            asyncio.create_task(changes.run(stop)),
        ]
        await stop.wait()
        server.should_exit = True
        # Let polls in progress finish their page; cutting them short is safe too (a
        # watermark moves only after a page's events are stored), just slower next time.
        await directory.stop_all()
        _done, pending = await asyncio.wait(workers, timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await serving
    finally:
        for task in workers:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if directory is not None:
            await directory.stop_all()
        await http.aclose()
        await broker.stop()  # drains: publishes already started reach the server
        provider.shutdown()
        log.info("st-ingest stopped")


def main() -> None:
    settings = IngestSettings()
    setup_logging(settings.log_level)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
