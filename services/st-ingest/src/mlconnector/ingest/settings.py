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
