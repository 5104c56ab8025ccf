"""The FastStream broker every service uses: NATS with OpenTelemetry wired in."""

from __future__ import annotations

from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware

from mlconnector.common.settings import BaseServiceSettings
from mlconnector.common.telemetry import make_tracer_provider


def make_broker(settings: BaseServiceSettings, service_name: str) -> NatsBroker:
    provider = make_tracer_provider(
        settings.otel_service_name or service_name, settings.otel_exporter_otlp_endpoint
    )
    return NatsBroker(
        settings.nats_url,
        middlewares=(NatsTelemetryMiddleware(tracer_provider=provider),),
        # Services start before or after the server; keep trying rather than crash-loop.
        max_reconnect_attempts=-1,
    )
