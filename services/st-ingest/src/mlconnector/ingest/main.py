"""`mlconnector-st-ingest`: the webhook server and the export poll loop in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Iterator

import httpx
import uvicorn

from mlconnector.common.broker import jetstream, make_broker
from mlconnector.common.logs import setup_logging
from mlconnector.common.streams import KV_WATERMARKS, check_token, declare_all
from mlconnector.common.telemetry import make_tracer_provider
from mlconnector.ingest.app import create_app
from mlconnector.ingest.auth import TokenProvider
from mlconnector.ingest.client import StClient
from mlconnector.ingest.poller import ExportPoller, PollScheduler
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.settings import IngestSettings

log = logging.getLogger("mlconnector.ingest")

STOP_GRACE_SECONDS = 10.0


class _Server(uvicorn.Server):
    # uvicorn would install its own signal handlers and re-raise the signal after shutdown;
    # the whole process (poll loop included) stops on ours instead, and exits 0.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_settings(settings: IngestSettings) -> None:
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
    try:
        # Publishing goes through the broker (traces); KV and stream declaration use its
        # JetStream context directly, on the same connection.
        js = jetstream(broker)
        await declare_all(js)
        tokens = TokenProvider(
            http,
            settings.st_auth_url,
            settings.st_client_id,
            settings.st_client_secret.get_secret_value(),
        )
        client = StClient(
            http,
            tokens,
            settings.st_api_base_url,
            settings.st_app_key,
            settings.st_tenant,
            max_retries=settings.st_max_retries,
        )
        poller = ExportPoller(
            client,
            EventPublisher(broker),
            await js.key_value(KV_WATERMARKS),
            settings.st_tenant,
            list_page_size=settings.st_list_page_size,
            list_overlap=dt.timedelta(seconds=settings.st_list_overlap_seconds),
        )
        scheduler = PollScheduler(poller, settings.st_poll_seconds)
        app = create_app(settings, lambda _tenant: scheduler.trigger(), scheduler)
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
            "st-ingest for tenant %s on http://%s:%s, polling every %.0f s",
            settings.st_tenant,
            settings.host,
            settings.port,
            settings.st_poll_seconds,
        )
        serving = asyncio.create_task(serve())
        polling = asyncio.create_task(scheduler.run(stop))
        await stop.wait()
        server.should_exit = True
        try:
            # Let a poll in progress finish its page; cutting it short is safe too (the
            # watermark moves only after a page's events are stored), just slower next time.
            await asyncio.wait_for(asyncio.shield(polling), STOP_GRACE_SECONDS)
        except TimeoutError:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        await serving
    finally:
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
