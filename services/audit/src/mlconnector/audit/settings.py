"""Audit settings, from the environment."""

from __future__ import annotations

from pydantic import Field, field_validator

from mlconnector.common.connections import check_time_zone
from mlconnector.common.settings import BaseServiceSettings


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs operators paste (`postgresql://`, `postgres://`).

    SQLAlchemy would pick psycopg2 for them, which is not installed; psycopg 3 is.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class AuditSettings(BaseServiceSettings):
    database_url: str = Field(default="", alias="AUDIT_DATABASE_URL")
    # Optional PostgreSQL schema for the tables (tests use a throwaway one).
    database_schema: str | None = Field(default=None, alias="AUDIT_DATABASE_SCHEMA")
    host: str = Field(default="127.0.0.1", alias="AUDIT_HOST")
    port: int = Field(default=8082, alias="AUDIT_PORT")
    durable: str = Field(default="audit", alias="AUDIT_DURABLE")
    batch_size: int = Field(default=1024, ge=1, le=4096, alias="AUDIT_BATCH_SIZE")
    fetch_timeout_seconds: float = Field(default=1.0, gt=0, alias="AUDIT_FETCH_TIMEOUT_SECONDS")
    retry_delay_seconds: float = Field(default=2.0, gt=0, alias="AUDIT_RETRY_DELAY_SECONDS")
    # How long a pulled message may stay unacknowledged before JetStream offers it again:
    # what an audit process held when it died comes back after this long.
    ack_wait_seconds: float = Field(default=60.0, gt=0, alias="AUDIT_ACK_WAIT_SECONDS")
    # Times are shown in each connection's time zone (`mlconnector connection settings`);
    # this one is for connections without one.
    time_zone: str = Field(default="UTC", alias="AUDIT_TIME_ZONE")
    # How long the connections' settings (time zone, schedule) are cached.
    connections_ttl_seconds: float = Field(default=30.0, gt=0, alias="AUDIT_CONNECTIONS_TTL")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.home / 'audit.db'}"
