"""authenticate's decision: throttle, one index lookup, a bounded and cached argon2 verify,
and an upgrade of hashes made with older parameters.

Per login: three rate-limit reads at once (throttle.py), two key reads (user-name index and
the connection), then either a cache hit or one argon2 verification in the worker pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.passwords import hash_password
from mlconnector.gateway.throttle import LoginThrottle
from mlconnector.gateway.verifier import PasswordVerifier, VerifierBusy

log = logging.getLogger(__name__)

# Verified when the user name is unknown, so a wrong name costs as long as a wrong password
# (made with the server's parameters, like the hashes it stands in for).
_DUMMY_HASH = hash_password("not-a-real-password")


@dataclass(frozen=True)
class AuthResult:
    """verdict "ok" carries the connection; "nvu" (not a valid user) and "busy" (throttled, or
    too many logins at once: the Web Connector tries again at its next run) carry None, and
    `refused` names the connection whose user name was right but whose password was not
    (its Web Connector is calling with a wrong password: the office must know)."""

    verdict: Literal["ok", "nvu", "busy"]
    connection: Connection | None = None
    reason: str = ""
    refused: str | None = None


class Authenticator:
    def __init__(
        self,
        connections: ConnectionStore,
        throttle: LoginThrottle,
        verifier: PasswordVerifier,
    ) -> None:
        self._connections = connections
        self._throttle = throttle
        self.verifier = verifier

    async def authenticate(self, username: str, password: str, address: str) -> AuthResult:
        refusal = await self._throttle.refusal(username, address)
        if refusal is not None:
            log.warning(
                "authenticate throttled for QBWC user %r from %s (%s limit, %.0f s left)",
                username,
                address,
                refusal.limit,
                refusal.retry_after,
            )
            return AuthResult("busy", reason=f"too many failed logins per {refusal.limit}")
        connection = await self._connections.by_username(username) if username else None
        password_hash = connection.password_hash if connection else _DUMMY_HASH
        try:
            valid = await self.verifier.verify(username, password_hash, password)
        except VerifierBusy:
            log.warning("authenticate deferred for QBWC user %r: verifier pool full", username)
            return AuthResult("busy", reason="too many logins at once")
        if connection is None or not valid:
            await self._throttle.failed(username, address)
            log.warning("authenticate refused for QBWC user %r from %s", username, address)
            return AuthResult(
                "nvu",
                reason="unknown user name or wrong password",
                refused=connection.name if connection is not None else None,
            )
        await self._throttle.succeeded(username, address)
        await self._upgrade_hash(connection, password)
        return AuthResult("ok", connection)

    async def _upgrade_hash(self, connection: Connection, password: str) -> None:
        """A hash made with older argon2 parameters is replaced after a successful login."""
        try:
            new_hash = await self.verifier.rehash(connection.password_hash, password)
        except VerifierBusy:
            return  # next login
        if new_hash is None:
            return
        # Read again just before writing: only the hash changes, nothing else read earlier.
        current = await self._connections.get(connection.name)
        if current is None or current.password_hash != connection.password_hash:
            return
        await self._connections.put(current.model_copy(update={"password_hash": new_hash}))
        log.info("password hash of connection %s upgraded to the server parameters", current.name)
