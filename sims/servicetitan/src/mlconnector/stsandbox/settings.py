"""Sandbox settings, from the environment (STSANDBOX_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STSANDBOX_", env_file=None, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8090
    tenant: str = "1234567"
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    app_key: str = "sandbox-app-key"
    seed: str = "demo"
    # ServiceTitan picks the export page size itself; small values exercise paging in tests.
    page_size: int = Field(default=50, ge=1, le=5000)
    token_ttl_seconds: int = Field(default=900, ge=1)
    log_level: str = "info"
