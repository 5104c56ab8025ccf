"""The sandbox's state: records in export order, issued tokens, injected faults, counters.

Tests run the HTTP server in a thread and change records from another, so every method
takes the lock.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mlconnector.stsandbox.seed import seed_records, st_time

Entity = Literal["customers", "invoices"]
ENTITIES: tuple[Entity, ...] = ("customers", "invoices")


class BadContinuationToken(ValueError):
    pass


@dataclass
class Fault:
    """An answer the next matching API call gets instead of the real one."""

    status: int
    times: int = 1
    retry_after: str | None = None
    body: Any = None
    path_contains: str = ""


@dataclass
class _Feed:
    # id -> (sequence, record); the sequence orders the export feed.
    records: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)


def parse_st_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


class SandboxStore:
    def __init__(
        self,
        seed: str = "demo",
        page_size: int = 50,
        token_ttl_seconds: int = 900,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.RLock()
        self.page_size = page_size
        self.token_ttl_seconds = token_ttl_seconds
        self._clock = clock
        self._seq = 0
        self._feeds: dict[Entity, _Feed] = {entity: _Feed() for entity in ENTITIES}
        self._tokens: dict[str, float] = {}
        self._faults: list[Fault] = []
        self.token_requests = 0
        self.api_requests: Counter[str] = Counter()
        customers, invoices = seed_records(seed)
        for record in customers:
            self.put("customers", record, touch=False)
        for record in invoices:
            self.put("invoices", record, touch=False)

    # --- records ------------------------------------------------------------------------

    def put(self, entity: Entity, record: dict[str, Any], touch: bool = True) -> dict[str, Any]:
        """Add or replace a record; it moves to the end of the export feed.

        `touch` stamps modifiedOn with the current time (never earlier than the previous
        version), as ServiceTitan does when anyone edits a record.
        """
        with self._lock:
            record = copy.deepcopy(record)
            record_id = int(record["id"])
            feed = self._feeds[entity]
            if touch:
                stamp = dt.datetime.now(dt.UTC)
                previous = feed.records.get(record_id)
                if previous is not None and previous[1].get("modifiedOn"):
                    floor = parse_st_time(previous[1]["modifiedOn"]) + dt.timedelta(milliseconds=1)
                    stamp = max(stamp, floor)
                record["modifiedOn"] = st_time(stamp)
                for item in record.get("items") or []:
                    item["modifiedOn"] = record["modifiedOn"]
            self._seq += 1
            feed.records[record_id] = (self._seq, record)
            return copy.deepcopy(record)

    def get(self, entity: Entity, record_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._feeds[entity].records.get(record_id)
            return copy.deepcopy(found[1]) if found else None

    def update(self, entity: Entity, record_id: int, **changes: Any) -> dict[str, Any]:
        """Change top-level fields of a stored record (a new version, later in the feed)."""
        with self._lock:
            current = self.get(entity, record_id)
            if current is None:
                raise KeyError(f"no {entity} record with id {record_id}")
            current.update(changes)
            return self.put(entity, current)

    def all(self, entity: Entity) -> list[dict[str, Any]]:
        with self._lock:
            ordered = sorted(self._feeds[entity].records.values(), key=lambda pair: pair[0])
            return [copy.deepcopy(record) for _, record in ordered]

    # --- export feed ---------------------------------------------------------------------

    @staticmethod
    def _encode(entity: Entity, seq: int) -> str:
        return base64.urlsafe_b64encode(f"{entity}|{seq}".encode()).decode().rstrip("=")

    @staticmethod
    def _decode(entity: Entity, token: str) -> int | None:
        """The sequence a continuation token stands for; None if it is not one of ours."""
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        name, sep, seq = text.partition("|")
        if not sep or not seq.isdigit() or name not in ENTITIES:
            return None
        if name != entity:
            raise BadContinuationToken(f"continuation token belongs to the {name} export")
        return int(seq)

    def export(self, entity: Entity, from_: str | None) -> dict[str, Any]:
        with self._lock:
            ordered = sorted(self._feeds[entity].records.values(), key=lambda pair: pair[0])
            if not from_:
                remaining = ordered
            else:
                seq = self._decode(entity, from_)
                if seq is not None:
                    remaining = [pair for pair in ordered if pair[0] > seq]
                else:
                    since = _parse_from_date(from_)
                    remaining = [
                        pair
                        for pair in ordered
                        if pair[1].get("modifiedOn")
                        and parse_st_time(pair[1]["modifiedOn"]) >= since
                    ]
            page = remaining[: self.page_size]
            if page:
                last = page[-1][0]
            elif from_ and (seq := self._decode(entity, from_)) is not None:
                last = seq
            else:
                # Nothing after a date: resume after everything that exists now.
                last = ordered[-1][0] if ordered and from_ else 0
            return {
                "hasMore": len(remaining) > len(page),
                "continueFrom": self._encode(entity, last),
                "data": [copy.deepcopy(record) for _, record in page],
            }

    # --- auth ------------------------------------------------------------------------------

    def issue_token(self) -> str:
        with self._lock:
            self.token_requests += 1
            token = secrets.token_urlsafe(32)
            self._tokens[token] = self._clock() + self.token_ttl_seconds
            return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
            return expiry is not None and self._clock() < expiry

    def expire_tokens(self) -> None:
        """Make every issued token stale, as if 15 minutes had passed."""
        with self._lock:
            self._tokens.clear()

    # --- faults ----------------------------------------------------------------------------

    def inject_fault(
        self,
        status: int = 429,
        times: int = 1,
        retry_after: str | None = None,
        body: Any = None,
        path_contains: str = "",
    ) -> None:
        with self._lock:
            self._faults.append(Fault(status, times, retry_after, body, path_contains))

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def count_request(self, path: str) -> None:
        with self._lock:
            self.api_requests[path] += 1


def _parse_from_date(value: str) -> dt.datetime:
    try:
        return parse_st_time(value)
    except ValueError as exc:
        raise BadContinuationToken(
            f"'from' must be a continuation token from 'continueFrom' or a date, got {value!r}"
        ) from exc
