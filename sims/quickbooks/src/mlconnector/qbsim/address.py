"""A postal address (BillAddress, ShipAddress), stored as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    addr1: str | None = None
    addr2: str | None = None
    addr3: str | None = None
    addr4: str | None = None
    addr5: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    note: str | None = None

    # qbXML element name for each field, in the schema's order.
    FIELDS = (
        ("Addr1", "addr1"),
        ("Addr2", "addr2"),
        ("Addr3", "addr3"),
        ("Addr4", "addr4"),
        ("Addr5", "addr5"),
        ("City", "city"),
        ("State", "state"),
        ("PostalCode", "postal_code"),
        ("Country", "country"),
        ("Note", "note"),
    )

    def is_empty(self) -> bool:
        return all(getattr(self, attr) is None for _, attr in self.FIELDS)

    def to_json(self) -> str | None:
        if self.is_empty():
            return None
        return json.dumps({attr: getattr(self, attr) for _, attr in self.FIELDS})

    @classmethod
    def from_json(cls, raw: str | None) -> Address | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(**{attr: data.get(attr) for _, attr in cls.FIELDS})
