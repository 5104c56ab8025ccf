"""ServiceTitan vendor (inventory API `vendors`) -> canonical `Party` of kind "vendor".

Fields follow `Inventory.V2.VendorResponse`: `id`, `name`, `active`, `contactInfo {firstName,
lastName, phone, email, fax}`, `address {street, unit, city, state, zip, country}`,
`modifiedOn`. The inventory API has no vendor export feed; the list endpoint answers the same
records.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mlconnector.common.models import Party
from mlconnector.ingest.translate_base import Reader


def translate_vendor(raw: Any) -> Party:
    r = Reader("vendor", raw)
    data = r.raw
    contact = r.obj(data, "contactInfo", "contactInfo") or {}
    try:
        return Party(
            kind="vendor",
            st_id=r.integer(data, "id", "id"),
            name=r.text(data, "name", "name"),
            active=r.boolean(data, "active", "active", default=True),
            email=r.text(contact, "email", "contactInfo.email", required=False) or None,
            phone=r.text(contact, "phone", "contactInfo.phone", required=False) or None,
            address=r.address(data, "address", "address"),
            modified_on=r.timestamp(data, "modifiedOn", "modifiedOn", required=False),
        )
    except ValidationError as exc:
        raise r.invalid(exc) from exc
