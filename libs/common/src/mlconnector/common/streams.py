"""Streams, subjects and KV buckets (DESIGN.md), and their idempotent declaration."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

# Every identifier that becomes a subject token or KV key: no dots, spaces or wildcards.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

DUPLICATE_WINDOW_SECONDS = 2 * 24 * 3600


def check_token(kind: str, value: str) -> str:
    if not TOKEN_RE.fullmatch(value):
        raise ValueError(
            f"{kind} {value!r} must be 1-64 letters, digits, '-' or '_' "
            "(it becomes part of a NATS subject)"
        )
    return value


@dataclass(frozen=True)
class StreamDef:
    name: str
    subjects: tuple[str, ...]


# ST_EVENTS also carries st-ingest's unreadable records (`st.rejected.`), feed reports
# (`st.feeds.`) and what it wrote back to ServiceTitan (`st.writeback.`); QB_OUTCOMES the
# gateway's session reports (`qb.sessions.`). Each consumer filters the subjects it reads.
ST_EVENTS = StreamDef("ST_EVENTS", ("st.events.>", "st.rejected.>", "st.feeds.>", "st.writeback.>"))
QB_COMMANDS = StreamDef("QB_COMMANDS", ("qb.commands.>",))
QB_OUTCOMES = StreamDef("QB_OUTCOMES", ("qb.outcomes.>", "qb.sessions.>"))
QB_CHANGES = StreamDef("QB_CHANGES", ("qb.changes.>",))
ALL_STREAMS = (ST_EVENTS, QB_COMMANDS, QB_OUTCOMES, QB_CHANGES)

KV_CONNECTIONS = "connections"
KV_SESSIONS = "qbwc-sessions"
KV_ID_MAP = "id-map"
KV_WATERMARKS = "watermarks"
# The gateway's work ledger: per connection and record, the version to send and its state
# (mlconnector.gateway.ledger). One value per key (history 1) and direct gets, so that a
# connection's whole ledger reads in one request.
KV_WORK = "qbwc-work"
# st-ingest's own state: ServiceTitan client credentials per connection (encrypted,
# mlconnector.common.credentials), the per-tenant call windows of the shared rate limiter,
# webhook CloudEvent ids already accepted (kept a day), and feed leases/health, backfills,
# its own writes to ServiceTitan (so they are not echoed back) and QuickBooks ListID links.
KV_CREDENTIALS = "st-credentials"
KV_RATE_LIMITS = "st-rate-limits"
KV_WEBHOOK_IDS = "st-webhook-ids"
KV_ST_STATE = "st-state"
# Onboarding (mlconnector.common.onboarding): what the gateway read of each connection's
# QuickBooks company (a manifest and pages of list entries, one value per key), and the
# review of how ServiceTitan's lists match it (plan pages, name overrides, 3100 holds).
KV_COMPANY = "qb-company"
KV_ONBOARDING = "onboarding"
WEBHOOK_IDS_TTL_SECONDS = 24 * 3600
# QBWC user name -> connection name (connections.py keeps it; authenticate reads one key).
KV_QBWC_USERS = "qbwc-users"
# Failed-login counters shared by every gateway replica (gateway/throttle.py); entries are
# only useful for minutes, the bucket TTL collects the rest.
KV_AUTH_LIMITS = "qbwc-auth-limits"
AUTH_LIMITS_TTL_SECONDS = 3600
SESSION_TTL_SECONDS = 3600


@dataclass(frozen=True)
class BucketDef:
    ttl: float | None = None
    history: int = 5
    direct: bool = False


ALL_BUCKETS: dict[str, BucketDef] = {
    KV_CONNECTIONS: BucketDef(),
    KV_SESSIONS: BucketDef(ttl=SESSION_TTL_SECONDS),
    # Direct gets: a round reads the entries it needs in one request (kvbatch).
    KV_ID_MAP: BucketDef(direct=True),
    KV_WATERMARKS: BucketDef(),
    KV_WORK: BucketDef(history=1, direct=True),
    KV_CREDENTIALS: BucketDef(),
    KV_RATE_LIMITS: BucketDef(),
    KV_WEBHOOK_IDS: BucketDef(ttl=WEBHOOK_IDS_TTL_SECONDS),
    KV_ST_STATE: BucketDef(),
    KV_QBWC_USERS: BucketDef(),
    KV_AUTH_LIMITS: BucketDef(ttl=AUTH_LIMITS_TTL_SECONDS),
    KV_COMPANY: BucketDef(history=1),
    KV_ONBOARDING: BucketDef(direct=True),
}


def st_event_subject(tenant: str, entity: str) -> str:
    return f"st.events.{tenant}.{entity}"


def st_rejected_subject(tenant: str, entity: str) -> str:
    return f"st.rejected.{tenant}.{entity}"


def command_subject(connection: str) -> str:
    return f"qb.commands.{connection}"


def outcome_subject(connection: str) -> str:
    return f"qb.outcomes.{connection}"


def change_subject(connection: str, entity: str) -> str:
    return f"qb.changes.{connection}.{entity}"


def session_subject(connection: str) -> str:
    return f"qb.sessions.{connection}"


def feed_subject(tenant: str, entity: str) -> str:
    return f"st.feeds.{tenant}.{entity}"


def writeback_subject(tenant: str, entity: str) -> str:
    return f"st.writeback.{tenant}.{entity}"


async def declare_all(js: JetStreamContext) -> None:
    """Create or update every stream and bucket; safe to call from every service at start."""
    for stream in ALL_STREAMS:
        config = StreamConfig(
            name=stream.name,
            subjects=list(stream.subjects),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            # Direct gets: the gateway reads commands by sequence without a consumer.
            allow_direct=True,
        )
        try:
            await js.stream_info(stream.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
    for bucket, spec in ALL_BUCKETS.items():
        try:
            await js.key_value(bucket)
            if spec.direct:
                # A bucket made before it needed direct gets gets them (a config update).
                info = await js.stream_info(f"KV_{bucket}")
                if not info.config.allow_direct:
                    info.config.allow_direct = True
                    await js.update_stream(info.config)
        except BucketNotFoundError:
            await js.create_key_value(
                KeyValueConfig(
                    bucket=bucket, ttl=spec.ttl, history=spec.history, direct=spec.direct
                )
            )
