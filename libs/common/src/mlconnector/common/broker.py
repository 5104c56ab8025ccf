"""The FastStream broker every service uses: NATS with OpenTelemetry wired in."""

from __future__ import annotations

import functools
import logging
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider

from mlconnector.common.settings import BaseServiceSettings
from mlconnector.common.telemetry import make_tracer_provider


def _fetch_raises_nats_timeouts() -> None:
    """Make a pull fetch that times out raise nats' TimeoutError, never a bare asyncio one.

    faststream 0.7.8's pull loops catch only `nats.errors.TimeoutError`, but nats-py 2.16's
    `fetch` also raises a bare `asyncio.TimeoutError` (e.g. when the deadline runs out after a
    partial batch). The consume task then dies and FastStream's supervisor restarts it, and the
    messages it had already fetched sit unacked until ack_wait (60 s) redelivers them. nats'
    error subclasses asyncio's, so every caller catching either keeps working.
    """
    cls: Any = JetStreamContext.PullSubscription
    original = cls.fetch
    if getattr(original, "_raises_nats_timeouts", False):
        return

    @functools.wraps(original)
    async def fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except nats.errors.TimeoutError:
            raise
        except TimeoutError as exc:  # asyncio.TimeoutError is the builtin since 3.11
            raise nats.errors.TimeoutError from exc

    fetch._raises_nats_timeouts = True  # type: ignore[attr-defined]
    cls.fetch = fetch


_fetch_raises_nats_timeouts()


def make_broker(
    settings: BaseServiceSettings,
    service_name: str,
    *,
    tracer_provider: TracerProvider | None = None,
) -> NatsBroker:
    """`tracer_provider` lets a service share its provider with spans it starts itself (and
    tests capture spans in memory); by default one is made from the OTEL_* settings."""
    provider = tracer_provider or make_tracer_provider(
        settings.otel_service_name or service_name, settings.otel_exporter_otlp_endpoint
    )
    return NatsBroker(
        settings.nats_url,
        middlewares=(NatsTelemetryMiddleware(tracer_provider=provider),),
        # Services start before or after the server; keep trying rather than crash-loop.
        max_reconnect_attempts=-1,
        # FastStream logs every batch received/processed; that belongs in DEBUG, the audit
        # trail is where an operator reads what happened to each record.
        log_level=logging.DEBUG,
        # Our logger, not FastStream's default one, whose handler writes colour escape codes
        # into log files; this one propagates to the process's set-up (common.logs).
        logger=logging.getLogger("mlconnector.broker"),
    )


def jetstream(broker: NatsBroker) -> JetStreamContext:
    """The JetStream context of a connected broker: stream declaration and KV buckets share
    the broker's one connection instead of opening their own."""
    js: JetStreamContext = broker.config.connection_state.stream
    return js
