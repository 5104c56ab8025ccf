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
    # ServiceTitan: 60 calls per second per application and tenant (429 beyond); 0 = off.
    rate_limit_per_second: int = Field(default=60, ge=0)
    # Keep every request and answer (tests validate them against the OpenAPI documents).
    record_exchanges: bool = False
    log_level: str = "info"
