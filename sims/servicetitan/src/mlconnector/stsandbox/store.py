"""The sandbox's state: records in export order, issued tokens, injected faults, counters.

Tests run the HTTP server in a thread and change records from another, so every method
takes the lock.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import datetime as dt
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mlconnector.stsandbox.catalog import Catalog
from mlconnector.stsandbox.seed import seed_data, st_time

# Named like their ServiceTitan endpoints. Vendors have no export feed (the inventory API lists
# them), but are stored the same way.
Entity = Literal["customers", "invoices", "payments", "inventory-bills", "vendors"]
ENTITIES: tuple[Entity, ...] = ("customers", "invoices", "payments", "inventory-bills", "vendors")
EXPORTS: tuple[Entity, ...] = ("customers", "invoices", "payments", "inventory-bills")


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
    # Every (sequence, id) ever put, in sequence order: an export page is found by bisection
    # instead of sorting the whole feed (the benchmarks page through 100,000 invoices).
    log_seqs: list[int] = field(default_factory=list)
    log_ids: list[int] = field(default_factory=list)

    def after(self, seq: int, limit: int) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
        """Up to `limit` current records put after `seq`, in order, and whether more remain."""
        out: list[tuple[int, dict[str, Any]]] = []
        index = bisect.bisect_right(self.log_seqs, seq)
        while index < len(self.log_seqs):
            entry_seq, record_id = self.log_seqs[index], self.log_ids[index]
            index += 1
            current = self.records.get(record_id)
            if current is None or current[0] != entry_seq:
                continue  # replaced by a later version, further on in the log
            if len(out) == limit:
                return out, True
            out.append(current)
        return out, False


@dataclass
class Stuck:
    """An export that keeps answering the same page: hasMore true, the same continueFrom."""

    entity: Entity
    times: int


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
        rate_limit_per_second: int = 0,
    ) -> None:
        self._lock = threading.RLock()
        self.page_size = page_size
        self.token_ttl_seconds = token_ttl_seconds
        self._clock = clock
        self._seq = 0
        self._feeds: dict[Entity, _Feed] = {entity: _Feed() for entity in ENTITIES}
        self._tokens: dict[str, float] = {}
        self._faults: list[Fault] = []
        self._stuck: list[Stuck] = []
        self.token_requests = 0
        self.api_requests: Counter[str] = Counter()
        # ServiceTitan allows 60 calls per second per application and tenant; 0 = no limit.
        self.rate_limit_per_second = rate_limit_per_second
        self._admitted: deque[float] = deque()
        # The time (self._clock) of every API call, refused ones included: what a benchmark
        # reads to find the most calls in any one-second window.
        self.call_times: list[float] = []
        # Per-item refusals of write-back calls: (entity, id) -> (errorMessage, times left).
        self._refusals: dict[tuple[Entity, int], tuple[str, int]] = {}
        # What markasexported was told per invoice: id -> (externalId, externalMessage).
        self.exported: dict[int, tuple[str | None, str | None]] = {}
        self._next_id = 90_000_000_000
        # The setup lists (pricebook, GL accounts, tax zones, business units): catalog.py.
        self.catalog = Catalog(seed)
        for entity, records in seed_data(seed).items():
            # Freshly built for this store, and never changed in place afterwards (put
            # replaces a record): stored as they are.
            self.put_many(entity, records)

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
                    # Invoice items carry their own modifiedOn; bill items have none.
                    if isinstance(item, dict) and "modifiedOn" in item:
                        item["modifiedOn"] = record["modifiedOn"]
            self._seq += 1
            feed.records[record_id] = (self._seq, record)
            feed.log_seqs.append(self._seq)
            feed.log_ids.append(record_id)
            return copy.deepcopy(record)

    def put_many(self, entity: Entity, records: list[dict[str, Any]]) -> None:
        """Add records as they are (no copy, modifiedOn kept): bulk seeds and benchmarks."""
        with self._lock:
            feed = self._feeds[entity]
            for record in records:
                record_id = int(record["id"])
                self._seq += 1
                feed.records[record_id] = (self._seq, record)
                feed.log_seqs.append(self._seq)
                feed.log_ids.append(record_id)

    def new_id(self) -> int:
        """An id for a record created through the API (int64, above every seeded id)."""
        with self._lock:
            self._next_id += 1
            return self._next_id

    def count(self, entity: Entity) -> int:
        with self._lock:
            return len(self._feeds[entity].records)

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

    # --- list endpoints (page / pageSize) ------------------------------------------------

    def query(
        self,
        entity: Entity,
        *,
        page: int = 1,
        page_size: int = 50,
        include_total: bool = False,
        ids: set[int] | None = None,
        active: Literal["True", "Any", "False"] = "True",
        created_before: dt.datetime | None = None,
        created_on_or_after: dt.datetime | None = None,
        modified_before: dt.datetime | None = None,
        modified_on_or_after: dt.datetime | None = None,
        sort: tuple[str, bool] = ("id", True),
    ) -> dict[str, Any]:
        """A list endpoint's PaginatedResponse: filtered, sorted (field, ascending), one page."""
        with self._lock:
            records = self.all(entity)

        def stamp(record: dict[str, Any], key: str) -> dt.datetime | None:
            value = record.get(key)
            return parse_st_time(value) if isinstance(value, str) else None

        def keep(record: dict[str, Any]) -> bool:
            if ids is not None and int(record["id"]) not in ids:
                return False
            if active != "Any" and bool(record.get("active", True)) != (active == "True"):
                return False
            created, modified = stamp(record, "createdOn"), stamp(record, "modifiedOn")
            for value, bound, before in (
                (created, created_before, True),
                (created, created_on_or_after, False),
                (modified, modified_before, True),
                (modified, modified_on_or_after, False),
            ):
                if bound is None:
                    continue
                if value is None or (value >= bound if before else value < bound):
                    return False
            return True

        field_name, ascending = sort
        chosen = [record for record in records if keep(record)]
        if field_name == "id":
            chosen.sort(key=lambda r: int(r["id"]), reverse=not ascending)
        else:
            key = "modifiedOn" if field_name == "modifiedon" else "createdOn"
            floor = dt.datetime.min.replace(tzinfo=dt.UTC)
            # Ties keep id order, as a database sort with the primary key as tiebreaker would.
            chosen.sort(key=lambda r: int(r["id"]))
            chosen.sort(key=lambda r: stamp(r, key) or floor, reverse=not ascending)
        start = (page - 1) * page_size
        chunk = chosen[start : start + page_size]
        return {
            "page": page,
            "pageSize": page_size,
            "hasMore": len(chosen) > start + len(chunk),
            "totalCount": len(chosen) if include_total else None,
            "data": chunk,
        }

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
        if not sep or not seq.isdigit() or name not in EXPORTS:
            return None
        if name != entity:
            raise BadContinuationToken(f"continuation token belongs to the {name} export")
        return int(seq)

    def export(self, entity: Entity, from_: str | None, copies: bool = True) -> dict[str, Any]:
        """One export page after `from_` (a continuation token or a modifiedOn date).

        `copies` False hands out the stored dicts themselves (the HTTP layer only serialises
        them); callers that may change what they get keep the default.
        """
        with self._lock:
            feed = self._feeds[entity]
            seq = self._decode(entity, from_) if from_ else 0
            stuck = self._take_stuck(entity) if from_ else False
            if seq is not None:
                page, more = feed.after(seq, self.page_size)
            else:
                assert from_ is not None
                since = _parse_from_date(from_)
                ordered = sorted(feed.records.values(), key=lambda pair: pair[0])
                remaining = [
                    pair
                    for pair in ordered
                    if pair[1].get("modifiedOn") and parse_st_time(pair[1]["modifiedOn"]) >= since
                ]
                page, more = remaining[: self.page_size], len(remaining) > self.page_size
            if stuck and from_:
                # The fault: the same token back, with more to come, the page re-sent.
                return {
                    "hasMore": True,
                    "continueFrom": from_,
                    "data": [copy.deepcopy(record) for _, record in page]
                    if copies
                    else [record for _, record in page],
                }
            if page:
                last = page[-1][0]
            elif seq is not None:
                last = seq
            else:
                # Nothing after a date: resume after everything that exists now.
                last = feed.log_seqs[-1] if feed.log_seqs else 0
            data = [copy.deepcopy(r) for _, r in page] if copies else [r for _, r in page]
            return {
                "hasMore": more,
                "continueFrom": self._encode(entity, last),
                "data": data,
            }

    def stick(self, entity: Entity, times: int = 1_000_000) -> None:
        """Make the next `times` continued reads of an export answer the page they were asked
        for again, with `hasMore: true` and the very token they sent (a stuck feed)."""
        with self._lock:
            self._stuck.append(Stuck(entity, times))

    def unstick(self) -> None:
        with self._lock:
            self._stuck.clear()

    def _take_stuck(self, entity: Entity) -> bool:
        for stuck in self._stuck:
            if stuck.entity == entity:
                stuck.times -= 1
                if stuck.times <= 0:
                    self._stuck.remove(stuck)
                return True
        return False

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

    # --- rate limit --------------------------------------------------------------------------

    def admit(self) -> float | None:
        """Record an API call; None if it is within the limit, else the seconds to wait.

        A sliding one-second window of admitted calls, as ServiceTitan's "60 calls per second
        per application per tenant" reads; refused calls are not admitted.
        """
        with self._lock:
            now = self._clock()
            self.call_times.append(now)
            if self.rate_limit_per_second <= 0:
                return None
            while self._admitted and self._admitted[0] <= now - 1.0:
                self._admitted.popleft()
            if len(self._admitted) >= self.rate_limit_per_second:
                return max(0.0, self._admitted[0] + 1.0 - now)
            self._admitted.append(now)
            return None

    def max_calls_in_any_second(self, since: float | None = None) -> int:
        """The most API calls that arrived within any one-second window (after `since`)."""
        with self._lock:
            times = sorted(t for t in self.call_times if since is None or t >= since)
        best = 0
        start = 0
        for end, when in enumerate(times):
            while when - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    # --- write-back refusals -----------------------------------------------------------------

    def refuse(self, entity: Entity, record_id: int, message: str, times: int = 1) -> None:
        """Make the next `times` write-back items for this record fail with `message`."""
        with self._lock:
            self._refusals[(entity, record_id)] = (message, times)

    def note_exported(self, invoice_id: int, external_id: str | None, message: str | None) -> None:
        with self._lock:
            self.exported[invoice_id] = (external_id, message)

    def take_refusal(self, entity: Entity, record_id: int) -> str | None:
        with self._lock:
            found = self._refusals.get((entity, record_id))
            if found is None:
                return None
            message, times = found
            if times <= 1:
                del self._refusals[(entity, record_id)]
            else:
                self._refusals[(entity, record_id)] = (message, times - 1)
            return message


def _parse_from_date(value: str) -> dt.datetime:
    try:
        return parse_st_time(value)
    except ValueError as exc:
        raise BadContinuationToken(
            f"'from' must be a continuation token from 'continueFrom' or a date, got {value!r}"
        ) from exc
