"""ServiceTitan client credentials per connection, encrypted at rest (KV `st-credentials`).

ServiceTitan issues a client id and secret per tenant and environment, and an app key per
application (developer.servicetitan.io, "OAuth 2.0"); a hosted ml-connector serving many
contractors keeps one set per connection instead of one set in its environment.

Stored values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from the `cryptography` package)
of the credentials' JSON. The key comes from the environment, `MLCONNECTOR_CREDENTIALS_KEY`:
one or more Fernet keys separated by commas, the first one encrypting, every one decrypting
(MultiFernet), so a key is rotated by putting the new key first, running
`CredentialStore.rotate_all()` (re-encrypts every entry with it), then dropping the old one.
Nothing here logs or prints a secret: `StCredentials.__repr__` masks them.
"""

from __future__ import annotations

import contextlib
import json
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from mlconnector.common.streams import KV_CREDENTIALS, check_token

KEY_ENV = "MLCONNECTOR_CREDENTIALS_KEY"


class CredentialsError(RuntimeError):
    """Credentials cannot be stored or read; the message says what to do, in one sentence."""


class StCredentials(BaseModel):
    """One connection's ServiceTitan API access.

    `api_base_url`/`auth_url` empty: st-ingest's ST_API_BASE_URL / ST_AUTH_URL (production
    and integration environments have different hosts and different credentials).
    `webhook_secret`: the HMAC key typed into ServiceTitan's webhook settings for this
    tenant, if any (else ST_WEBHOOK_SECRET).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    app_key: SecretStr
    api_base_url: str = ""
    auth_url: str = ""
    webhook_secret: SecretStr | None = None

    def plain_json(self) -> bytes:
        """The JSON that gets encrypted: secrets in clear, so never log or store it as is."""
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
            "app_key": self.app_key.get_secret_value(),
            "api_base_url": self.api_base_url,
            "auth_url": self.auth_url,
            "webhook_secret": (
                self.webhook_secret.get_secret_value() if self.webhook_secret else None
            ),
        }
        return json.dumps(body, sort_keys=True).encode()


def cipher_from_env(environ: dict[str, str] | None = None) -> MultiFernet:
    """The MultiFernet of `MLCONNECTOR_CREDENTIALS_KEY`; CredentialsError when unset or bad."""
    text = (environ if environ is not None else dict(os.environ)).get(KEY_ENV, "")
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise CredentialsError(
            f"{KEY_ENV} is not set: set it to a key made with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()'
            '.decode())"` and keep it with your other secrets.'
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise CredentialsError(
            f"{KEY_ENV} holds something that is not a Fernet key (32 url-safe base64 bytes); "
            "make one with Fernet.generate_key()."
        ) from exc


def new_key() -> str:
    """A fresh key for MLCONNECTOR_CREDENTIALS_KEY."""
    return Fernet.generate_key().decode()


class CredentialStore:
    """Encrypted credentials per connection name. `cipher` None: reading or writing raises
    CredentialsError naming the missing key (listing which connections have some does not
    need it)."""

    def __init__(self, kv: KeyValue, cipher: MultiFernet | None) -> None:
        self._kv = kv
        self._cipher = cipher

    @classmethod
    async def open(cls, js: JetStreamContext, cipher: MultiFernet | None = None) -> CredentialStore:
        return cls(await js.key_value(KV_CREDENTIALS), cipher)

    def _need_cipher(self) -> MultiFernet:
        if self._cipher is None:
            return cipher_from_env()
        return self._cipher

    async def put(self, connection: str, credentials: StCredentials) -> None:
        check_token("connection name", connection)
        token = self._need_cipher().encrypt(credentials.plain_json())
        await self._kv.put(connection, token)

    async def token(self, connection: str) -> bytes | None:
        """The stored (encrypted) value, or None."""
        try:
            entry = await self._kv.get(connection)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        return entry.value or None

    async def get(self, connection: str) -> StCredentials | None:
        """The connection's credentials, or None when it has none.

        CredentialsError when they cannot be decrypted (the key is missing or not the one
        they were stored with).
        """
        token = await self.token(connection)
        if token is None:
            return None
        cipher = self._need_cipher()
        try:
            plain = cipher.decrypt(token)
        except InvalidToken as exc:
            raise CredentialsError(
                f"the ServiceTitan credentials of connection {connection!r} cannot be "
                f"decrypted with {KEY_ENV}: set the key they were stored with (or store them "
                "again with `mlconnector connection credentials`)."
            ) from exc
        try:
            return StCredentials.model_validate_json(plain)
        except ValidationError as exc:
            raise CredentialsError(
                f"the stored ServiceTitan credentials of connection {connection!r} are "
                "incomplete: store them again with `mlconnector connection credentials`."
            ) from exc

    async def delete(self, connection: str) -> None:
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
            await self._kv.delete(connection)

    async def rotate_all(self, connections: list[str]) -> int:
        """Re-encrypt each listed connection's entry with the first key; how many were."""
        cipher = self._need_cipher()
        count = 0
        for name in connections:
            token = await self.token(name)
            if token is None:
                continue
            try:
                await self._kv.put(name, cipher.rotate(token))
            except InvalidToken as exc:
                raise CredentialsError(
                    f"connection {name!r}'s credentials were stored with a key that is not in "
                    f"{KEY_ENV}: add that key (after the new one) and rotate again."
                ) from exc
            count += 1
        return count
