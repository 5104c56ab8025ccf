"""What every ServiceTitan translation shares: the error, a typed reader, record versions.

Real ServiceTitan data deviates from its documents in places, so every field we rely on is
checked and a bad record raises `TranslationError` naming the record and the field path; the
poller reports it (audit shows it with ServiceTitan's JSON) and carries on with the rest of the
feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from mlconnector.common.models import Address, GLAccount
from mlconnector.common.money import to_decimal


class TranslationError(ValueError):
    def __init__(self, entity: str, record_id: object, field: str, problem: str) -> None:
        super().__init__(f"ServiceTitan {entity} {record_id}: field '{field}' {problem}")
        self.entity = entity
        self.record_id = record_id
        self.field = field
        self.problem = problem


_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


class Reader:
    """Typed access to one raw record; every failure names the record and the field path."""

    def __init__(self, entity: str, raw: Any) -> None:
        self.entity = entity
        if not isinstance(raw, dict):
            raise TranslationError(entity, "?", "(record)", f"is not a JSON object: {raw!r:.80}")
        self.raw: dict[str, Any] = raw
        self.record_id = raw.get("id", "?")

    def fail(self, field: str, problem: str) -> TranslationError:
        return TranslationError(self.entity, self.record_id, field, problem)

    def value(self, node: dict[str, Any], key: str, path: str, required: bool = True) -> Any:
        value = node.get(key)
        if value is None and required:
            raise self.fail(path, "is missing")
        return value

    def integer(self, node: dict[str, Any], key: str, path: str) -> int:
        value = self.value(node, key, path)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer id, got {value!r}")
        return value

    def text(self, node: dict[str, Any], key: str, path: str, required: bool = True) -> str:
        value = self.value(node, key, path, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(path, f"must be text, got {value!r}")
        if required and not value.strip():
            raise self.fail(path, "is empty")
        return value.strip()

    def html_text(self, node: dict[str, Any], key: str, path: str) -> str:
        """Optional text the documents mark `format: html`: tags dropped, entities decoded."""
        value = self.text(node, key, path, required=False)
        if "<" not in value and "&" not in value:
            return value
        return _SPACES.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()

    def choice(
        self, node: dict[str, Any], key: str, path: str, allowed: Iterable[str]
    ) -> str | None:
        """Optional text that must be one of the documented enum values."""
        options = tuple(allowed)
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or value not in options:
            listed = ", ".join(repr(option) for option in options)
            raise self.fail(path, f"must be one of {listed} (text), got {value!r}")
        return value

    def boolean(self, node: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {value!r}")
        return value

    def money(
        self, node: dict[str, Any], key: str, path: str, default: Decimal | None = None
    ) -> Decimal:
        """An amount (ServiceTitan sends money as a string); `default` when null or absent."""
        value = node.get(key)
        if value is None and default is not None:
            return default
        value = self.value(node, key, path)
        try:
            amount = to_decimal(value)
        except ValueError as exc:
            raise self.fail(path, f"is not an amount: {value!r}") from exc
        if not amount.is_finite():
            raise self.fail(path, f"is not an amount: {value!r}")
        return amount

    def timestamp(
        self, node: dict[str, Any], key: str, path: str, required: bool = True
    ) -> dt.datetime | None:
        value = self.value(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"must be an ISO 8601 date-time, got {value!r}")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise self.fail(path, f"is not an ISO 8601 date-time: {value!r}") from exc
        # ServiceTitan's timestamps are UTC; a value without an offset is UTC too.
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed

    def first_timestamp(self, node: dict[str, Any], *keys: str) -> dt.datetime:
        """The first of several date-time fields that is present (e.g. billDate, postDate)."""
        for key in keys:
            if node.get(key) is not None:
                found = self.timestamp(node, key, key)
                assert found is not None  # present
                return found
        also = f" (and so is {', '.join(keys[1:])})" if len(keys) > 1 else ""
        raise self.fail(keys[0], f"is missing{also}")

    def obj(
        self, node: dict[str, Any], key: str, path: str, required: bool = False
    ) -> dict[str, Any] | None:
        value = self.value(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, got {value!r:.80}")
        return value

    def required_obj(self, node: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        found = self.obj(node, key, path, required=True)
        assert found is not None  # required=True raised otherwise
        return found

    def items(self, node: dict[str, Any], key: str, path: str) -> list[tuple[str, dict[str, Any]]]:
        """A list of objects (null or absent = empty), each with its path, in `order` order."""
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, got {value!r:.80}")
        found: list[tuple[int, str, dict[str, Any]]] = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if not isinstance(item, dict):
                raise self.fail(item_path, f"must be an object, got {item!r:.80}")
            order = item.get("order")
            rank = order if isinstance(order, int) and not isinstance(order, bool) else index
            found.append((rank, item_path, item))
        found.sort(key=lambda entry: entry[0])  # stable: equal orders keep the list's order
        return [(item_path, item) for _, item_path, item in found]

    def address(self, node: dict[str, Any], key: str, path: str) -> Address | None:
        found = self.obj(node, key, path)
        if found is None:
            return None
        fields = {}
        for name in ("street", "unit", "city", "state", "zip", "country"):
            fields[name] = self.text(found, name, f"{path}.{name}", required=False)
        return Address(**fields)

    def gl_account(self, node: dict[str, Any], key: str, path: str) -> GLAccount | None:
        """A `{id, name, number, type, detailType}` account (Accounting.V2.GLAccountResponse)."""
        account = self.obj(node, key, path)
        if account is None:
            return None
        number = account.get("number")
        if number is not None and not isinstance(number, str | int):
            raise self.fail(f"{path}.number", f"must be text, got {number!r}")
        return GLAccount(
            id=self.integer(account, "id", f"{path}.id"),
            name=self.text(account, "name", f"{path}.name"),
            number=str(number) if number is not None else None,
            type=self.text(account, "type", f"{path}.type", required=False) or None,
        )

    def invalid(self, exc: ValidationError) -> TranslationError:
        """A canonical model refused a value: name the field as pydantic saw it."""
        errors = exc.errors()
        if not errors:
            return self.fail("(record)", str(exc))
        first = errors[0]
        return self.fail(".".join(str(part) for part in first["loc"]), str(first["msg"]))


def version_of(raw: dict[str, Any]) -> str:
    """modifiedOn as a normalized UTC ISO string; a content hash if the record has none."""
    modified = raw.get("modifiedOn")
    if isinstance(modified, str):
        try:
            parsed = dt.datetime.fromisoformat(modified)
        except ValueError:
            pass
        else:
            parsed = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
            return parsed.astimezone(dt.UTC).isoformat()
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    return "sha256-" + hashlib.sha256(canonical).hexdigest()[:32]
