"""Settings shared by every service; each app subclasses `BaseServiceSettings`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".mlconnector"


class BaseServiceSettings(BaseSettings):
    """Environment-driven settings every service understands.

    `NATS_URL` empty means "no server configured": `mlconnector up` then starts an embedded one
    and hands its URL to the services it launches.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    nats_url: str = Field(default="nats://127.0.0.1:4222", alias="NATS_URL")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_service_name: str | None = Field(default=None, alias="OTEL_SERVICE_NAME")
    home: Path = Field(default_factory=default_home, alias="MLCONNECTOR_HOME")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
