"""References between records: as a request writes them, and as QuickBooks returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RefSpec:
    """A reference as written in a request: ListID wins over FullName, as in QuickBooks."""

    list_id: str | None = None
    full_name: str | None = None

    @property
    def shown(self) -> str:
        return self.list_id or self.full_name or ""


@dataclass(frozen=True)
class Ref:
    list_id: str
    full_name: str
