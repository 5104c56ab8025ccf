"""st-ingest settings, from the environment (NATS_URL, ST_*, INGEST_*)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from mlconnector.common.settings import BaseServiceSettings


class IngestSettings(BaseServiceSettings):
    host: str = Field(default="127.0.0.1", alias="INGEST_HOST")
    port: int = Field(default=8081, alias="INGEST_PORT")

    st_api_base_url: str = Field(default="https://api.servicetitan.io", alias="ST_API_BASE_URL")
    st_auth_url: str = Field(default="https://auth.servicetitan.io", alias="ST_AUTH_URL")
    st_client_id: str = Field(default="", alias="ST_CLIENT_ID")
    st_client_secret: SecretStr = Field(default=SecretStr(""), alias="ST_CLIENT_SECRET")
    st_app_key: str = Field(default="", alias="ST_APP_KEY")
    st_tenant: str = Field(default="", alias="ST_TENANT")
    st_poll_seconds: float = Field(default=60.0, gt=0, alias="ST_POLL_SECONDS")
    st_webhook_secret: SecretStr | None = Field(default=None, alias="ST_WEBHOOK_SECRET")
    st_webhook_signature_header: str = Field(
        default="X-ST-Signature", alias="ST_WEBHOOK_SIGNATURE_HEADER"
    )
    st_http_timeout_seconds: float = Field(default=30.0, gt=0, alias="ST_HTTP_TIMEOUT_SECONDS")
    st_max_retries: int = Field(default=6, ge=0, alias="ST_MAX_RETRIES")
    # Vendors come from a list endpoint polled by modifiedOn: records per page, and how far
    # before the newest modifiedOn seen each poll starts again (records saved late, clocks
    # apart); what that overlap re-reads is recognised by id + modifiedOn and not re-published.
    st_list_page_size: int = Field(default=500, ge=1, le=5000, alias="ST_LIST_PAGE_SIZE")
    st_list_overlap_seconds: float = Field(default=300.0, ge=0, alias="ST_LIST_OVERLAP_SECONDS")
    # Many tenants: how often the connections (and their credentials) are read again.
    st_connections_refresh_seconds: float = Field(
        default=30.0, gt=0, alias="ST_CONNECTIONS_REFRESH_SECONDS"
    )
    # ServiceTitan allows 60 calls/s per application and tenant; the window's margin over a
    # second absorbs network jitter (limiter.py).
    st_rate_limit: int = Field(default=60, ge=1, alias="ST_RATE_LIMIT")
    st_rate_window_seconds: float = Field(default=1.05, ge=1.0, alias="ST_RATE_WINDOW_SECONDS")
    # A failing feed waits poll interval x 2^(failures-1), at most this long.
    st_max_backoff_seconds: float = Field(default=3600.0, gt=0, alias="ST_MAX_BACKOFF_SECONDS")
    st_failures_before_report: int = Field(default=3, ge=1, alias="ST_FAILURES_BEFORE_REPORT")
    # Webhooks older than this (CloudEvent `time`) are refused; ids are remembered a day.
    st_webhook_tolerance_seconds: float = Field(
        default=900.0, gt=0, le=86400.0, alias="ST_WEBHOOK_TOLERANCE_SECONDS"
    )
    # Write-back to ServiceTitan: attempts per record, and the wait between them.
    st_writeback_attempts: int = Field(default=5, ge=1, alias="ST_WRITEBACK_ATTEMPTS")
    st_writeback_retry_seconds: float = Field(
        default=30.0, gt=0, alias="ST_WRITEBACK_RETRY_SECONDS"
    )
