"""Mapper settings, from the environment (see BaseServiceSettings for NATS/OTel/home)."""

from __future__ import annotations

from pydantic import Field

from mlconnector.common.settings import BaseServiceSettings


class MapperSettings(BaseServiceSettings):
    durable: str = Field(default="mapper", alias="MAPPER_DURABLE")
    batch_size: int = Field(default=64, ge=1, le=1024, alias="MAPPER_BATCH_SIZE")
    fetch_timeout_seconds: float = Field(default=1.0, gt=0, alias="MAPPER_FETCH_TIMEOUT_SECONDS")
    # A tenant without a connection yet: wait for the operator to add one rather than drop
    # the event, but do not spin on it.
    no_connection_delay_seconds: float = Field(
        default=30.0, gt=0, alias="MAPPER_NO_CONNECTION_DELAY_SECONDS"
    )
    retry_delay_seconds: float = Field(default=5.0, gt=0, alias="MAPPER_RETRY_DELAY_SECONDS")
    # Must be longer than the time one batch takes to map and publish, or JetStream
    # redelivers messages that are still being worked on.
    ack_wait_seconds: float = Field(default=60.0, gt=0, alias="MAPPER_ACK_WAIT_SECONDS")
