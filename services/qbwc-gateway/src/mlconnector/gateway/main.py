"""`mlconnector-qbwc-gateway`: connect to NATS, declare streams, serve SOAP until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from mlconnector.common.broker import jetstream, make_broker
from mlconnector.common.logs import setup_logging
from mlconnector.common.streams import declare_all
from mlconnector.common.telemetry import make_tracer_provider
from mlconnector.gateway.app import create_app
from mlconnector.gateway.service import QbwcService
from mlconnector.gateway.settings import GatewaySettings

log = logging.getLogger("mlconnector.gateway")


async def serve(settings: GatewaySettings) -> None:
    # One provider for the broker's spans and the gateway's own (SOAP calls, commands), shut
    # down at the end so the last spans are exported before the process exits.
    provider = make_tracer_provider(
        settings.otel_service_name or "qbwc-gateway", settings.otel_exporter_otlp_endpoint
    )
    # make_broker keeps reconnecting rather than crash-loop when NATS restarts or starts late.
    broker = make_broker(settings, "qbwc-gateway", tracer_provider=provider)
    await broker.connect()
    try:
        await declare_all(jetstream(broker))
        service = await QbwcService.open(broker, settings, tracer_provider=provider)
        config = uvicorn.Config(
            create_app(service),
            host=settings.qbwc_host,
            port=settings.qbwc_port,
            log_config=None,  # our set-up (common.logs), plain lines in files
            lifespan="off",
        )
        server = _Server(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.request_stop)
        # serve() returns after in-flight SOAP calls finish; then NATS drains, so every
        # outcome publish and ack already started reaches the server.
        await server.serve()
    finally:
        await broker.stop()  # drains the connection
        provider.shutdown()
    log.info("QBWC gateway stopped")


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal it caught after shutdown, which would kill the process
    before NATS drains; this gateway handles SIGTERM/SIGINT itself instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_stop(self) -> None:
        self.should_exit = True


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    log.info(
        "QBWC gateway on %s:%s (public %s), NATS %s",
        settings.qbwc_host,
        settings.qbwc_port,
        settings.qbwc_public_url,
        settings.nats_url,
    )
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
