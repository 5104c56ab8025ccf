"""Failed logins rate-limited per user name and per client address (`limits`, fixed windows,
counters in NATS KV shared by every replica: kvlimits.py).

Three limits, each counting failures only:

- per (user name, address), 5 a minute: the Web Connector itself retries on a schedule, so a
  wrongly saved password never gets near this; a guesser from one address is held to 5 a minute.
- per address, 30 a minute: one address spraying many user names.
- per user name, 20 per 5 minutes: many addresses guessing one user name. This is the limit an
  attacker could use to lock the rightful user out, so it does not apply to an address from
  which that user logged in successfully within the last hour (a "known good" address, kept in
  the same bucket until its TTL), and its window is short: once the guessing stops, the user is
  let in again within 5 minutes.

OWASP's Authentication Cheat Sheet ("Protect Against Automated Attacks", account lockout)
recommends exactly this shape: throttle rather than lock, count per account and per source,
and keep the lockout short so it cannot be turned into a denial of service.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from mlconnector.gateway.kvlimits import NatsKvStorage

NAMESPACE = "qbwc-login"
PER_USER_AT_ADDRESS = parse("5/minute")
PER_ADDRESS = parse("30/minute")
PER_USER = parse("20/5 minutes")
KNOWN_GOOD_SECONDS = 3600.0


def _token(value: str) -> str:
    # User names and addresses (IPv6 has ':') become KV-safe, fixed-length key parts.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Refusal:
    """Why a login is not even tried: which limit, and seconds until it lets a try through."""

    limit: str
    retry_after: float


class LoginThrottle:
    """Counts failed logins and says whether the next try may go ahead.

    `address` is the client address the HTTP server saw (uvicorn replaces it with
    X-Forwarded-For only from the proxies in FORWARDED_ALLOW_IPS)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._limiter = FixedWindowRateLimiter(NatsKvStorage(kv))

    def _limits(self, user: str, address: str) -> list[tuple[str, RateLimitItem, tuple[str, ...]]]:
        u, a = _token(user), _token(address)
        return [
            ("user name at this address", PER_USER_AT_ADDRESS, (NAMESPACE, "ua", u, a)),
            ("address", PER_ADDRESS, (NAMESPACE, "a", a)),
            ("user name", PER_USER, (NAMESPACE, "u", u)),
        ]

    def _good_key(self, user: str, address: str) -> str:
        return f"{NAMESPACE}/good/{_token(user)}/{_token(address)}"

    async def refusal(self, user: str, address: str) -> Refusal | None:
        """None when a login from `address` as `user` may be tried now."""
        limits = self._limits(user, address)
        # Three independent key reads: one round trip's wait, not three.
        allowed = await asyncio.gather(*(self._limiter.test(item, *ids) for _, item, ids in limits))
        for (name, item, ids), ok in zip(limits, allowed, strict=True):
            if ok:
                continue
            if name == "user name" and await self._known_good(user, address):
                continue
            stats = await self._limiter.get_window_stats(item, *ids)
            return Refusal(name, max(0.0, stats.reset_time - time.time()))
        return None

    async def failed(self, user: str, address: str) -> None:
        await asyncio.gather(
            *(self._limiter.hit(item, *ids) for _, item, ids in self._limits(user, address))
        )

    async def succeeded(self, user: str, address: str) -> None:
        """Forget this pair's failures and remember the address as known good for the user."""
        _, item, ids = self._limits(user, address)[0]
        if await self._limiter.storage.get(item.key_for(*ids)):
            await self._limiter.clear(item, *ids)
        stamp = str(time.time() + KNOWN_GOOD_SECONDS).encode()
        await self._kv.put(self._good_key(user, address), stamp)

    async def _known_good(self, user: str, address: str) -> bool:
        try:
            entry = await self._kv.get(self._good_key(user, address))
        except KeyNotFoundError:
            return False
        return entry.value is not None and float(entry.value) > time.time()
