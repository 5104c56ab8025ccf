"""Mapper settings, from the environment (see BaseServiceSettings for NATS/OTel/home)."""

from __future__ import annotations

from pydantic import Field

from mlconnector.common.settings import BaseServiceSettings


class MapperSettings(BaseServiceSettings):
    durable: str = Field(default="mapper", alias="MAPPER_DURABLE")
    batch_size: int = Field(default=64, ge=1, le=1024, alias="MAPPER_BATCH_SIZE")
    # FastStream keeps pulling until the batch is full or this runs out: the longest a
    # trickling event waits for batch-mates (a full batch goes at once).
    fetch_timeout_seconds: float = Field(default=0.25, gt=0, alias="MAPPER_FETCH_TIMEOUT_SECONDS")
    # A tenant without a connection yet: wait for the operator to add one rather than drop
    # the event, but do not spin on it.
    no_connection_delay_seconds: float = Field(
        default=30.0, gt=0, alias="MAPPER_NO_CONNECTION_DELAY_SECONDS"
    )
    retry_delay_seconds: float = Field(default=5.0, gt=0, alias="MAPPER_RETRY_DELAY_SECONDS")
    # Must be longer than the time the batches in flight (below) take to map and publish,
    # or JetStream redelivers messages that are still being worked on.
    ack_wait_seconds: float = Field(default=60.0, gt=0, alias="MAPPER_ACK_WAIT_SECONDS")
    # Pull and map the next batch while the previous one's publishes are being confirmed.
    pipeline: bool = Field(default=True, alias="MAPPER_PIPELINE")
    # Batches pulled but not yet settled (mapping, waiting for the previous batch, or being
    # published), when pipelining.
    batches_in_flight: int = Field(default=2, ge=1, le=16, alias="MAPPER_BATCHES_IN_FLIGHT")
    # How long a batch waits for JetStream to confirm its publishes before naking the
    # events whose commands were not confirmed (they are redelivered, never dropped).
    publish_timeout_seconds: float = Field(
        default=10.0, gt=0, alias="MAPPER_PUBLISH_TIMEOUT_SECONDS"
    )
    # The connections bucket is read once per this many seconds, not once per event: an
    # operator's change to a connection's mapping settings applies within it. (A tenant the
    # cache does not know yet triggers a fresh read at once.)
    connections_ttl_seconds: float = Field(
        default=2.0, ge=0, alias="MAPPER_CONNECTIONS_TTL_SECONDS"
    )
