"""Gateway settings, from the environment (see BaseServiceSettings for NATS/OTel/home)."""

from __future__ import annotations

from pydantic import Field, model_validator

from mlconnector.common.settings import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    qbwc_host: str = Field(default="127.0.0.1", alias="QBWC_HOST")
    qbwc_port: int = Field(default=8080, ge=0, le=65535, alias="QBWC_PORT")
    # What the WSDL's soap:address and the .qwc AppURL say; the Web Connector insists on
    # https except for localhost. Unset: http://localhost:<QBWC_PORT>/qbwc.
    qbwc_public_url: str = Field(default="", alias="QBWC_PUBLIC_URL")
    # Requests per qbXML message: QuickBooks must answer one message within the Web
    # Connector's timeout (about 60 s), so a backlog is cut into rounds of this size.
    qbwc_batch_size: int = Field(default=50, ge=1, le=500, alias="QBWC_BATCH_SIZE")
    # And at most this many bytes of requests per message, whatever their number.
    qbwc_max_message_bytes: int = Field(default=512 * 1024, ge=4096, alias="QBWC_MAX_MESSAGE_BYTES")
    # A message QuickBooks took longer than this to answer makes the next one smaller (the
    # Web Connector gives up after about 60 s); one answered in a quarter of it, larger.
    qbwc_slow_seconds: float = Field(default=30.0, gt=0, alias="QBWC_SLOW_SECONDS")
    # Sessions a command may wait for a record it refers to before it fails (DESIGN rule 4).
    qbwc_max_wait_cycles: int = Field(default=10, ge=1, alias="QBWC_MAX_WAIT_CYCLES")
    # How often a session also asks QuickBooks for customers and vendors changed there (for
    # ServiceTitan, QB_CHANGES); 0 turns it off.
    qbwc_changes_every_seconds: float = Field(
        default=600.0, ge=0, alias="QBWC_CHANGES_EVERY_SECONDS"
    )
    # Records per message while a new connection's company is read (onboarding): an
    # iterator's MaxReturned, shared by the lists read in one message.
    qbwc_company_page_size: int = Field(default=500, ge=25, le=1000, alias="QBWC_COMPANY_PAGE_SIZE")
    qbwc_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, alias="QBWC_MAX_BODY_BYTES")
    # How long a command fetched from QB_COMMANDS may stay unacknowledged before JetStream
    # offers it again; it is acknowledged as soon as the ledger holds it.
    qbwc_ack_wait_seconds: float = Field(default=60.0, gt=0, alias="QBWC_ACK_WAIT_SECONDS")
    # Returned by authenticate when there is nothing to do ("none"): the Web Connector
    # postpones its next update by this many seconds, and runs this application at most
    # every this many seconds (FACTS: [ticket, "none", postpone-seconds, min-run-seconds]).
    # Unset: the Web Connector keeps the schedule the user gave it.
    qbwc_postpone_seconds: int | None = Field(default=None, ge=1, alias="QBWC_POSTPONE_SECONDS")
    qbwc_min_run_seconds: int | None = Field(default=None, ge=1, alias="QBWC_MIN_RUN_SECONDS")
    # Password verification (verifier.py): argon2 runs at once (each holds 19 MiB), logins
    # allowed to wait for one before the Web Connector is told "busy", and how long a
    # successful verification is remembered (longer than the Web Connectors' poll interval,
    # so a steady poll costs no argon2 run).
    qbwc_auth_workers: int = Field(default=2, ge=1, le=64, alias="QBWC_AUTH_WORKERS")
    qbwc_auth_max_waiting: int = Field(default=512, ge=0, alias="QBWC_AUTH_MAX_WAITING")
    qbwc_auth_cache_seconds: float = Field(default=900.0, ge=0, alias="QBWC_AUTH_CACHE_SECONDS")

    @model_validator(mode="after")
    def _local_public_url(self) -> GatewaySettings:
        """Without QBWC_PUBLIC_URL the gateway is reached where it listens, on this machine."""
        if not self.qbwc_public_url:
            self.qbwc_public_url = f"http://localhost:{self.qbwc_port}/qbwc"
        return self
