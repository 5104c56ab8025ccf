"""Which QuickBooks sales tax item an invoice names (ItemSalesTaxRef, or its tax line).

QuickBooks computes an invoice's tax with its sales tax item's rate, so the item must be the
one whose rate is the ServiceTitan tax zone's: a 6.25% invoice taxed with an 8.25% item
leaves QuickBooks' total different from ServiceTitan's. ServiceTitan's own QuickBooks Desktop
connector maps each tax zone to a QuickBooks sales tax item or group for the same reason
(help.servicetitan.com, "Map ServiceTitan tax zones to QuickBooks Desktop tax rates").

The choice, in order:
1. `tax_zone_map` entry for the invoice's `taxZoneId` (by id, or by the zone's name);
2. a company that maps zones has declared its zones: an invoice that charged tax in a zone
   with no entry is refused, naming the zone, rather than posted at another zone's rate
   (what "by default" cannot mean: a silent wrong total);
3. `tax_item_map` by business unit (older setting);
4. `sales_tax_item`: a company with one tax zone maps nothing and every invoice uses it.
"""

from __future__ import annotations

from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Invoice
from mlconnector.common.money import cents
from mlconnector.mapper.errors import MappingError


def tax_item(invoice: Invoice, mapping: MappingSettings, event_id: str) -> str:
    """The sales tax item's FullName; raises MappingError for an unmapped zone (rule 2)."""
    mapped = mapping.tax_zone_item(invoice.tax_zone_id)
    if mapped is not None:
        return mapped
    if mapping.tax_zone_map and invoice.tax_zone_id is not None and cents(invoice.sales_tax):
        zone = invoice.tax_zone_id
        name = mapping.tax_zones.get(zone)
        named = f" ({name})" if name else ""
        raise MappingError(
            f"invoice {invoice.number} (ServiceTitan id {invoice.st_id}, event {event_id}) "
            f"charged tax in ServiceTitan tax zone {zone}{named}, which has no QuickBooks sales "
            "tax item in this connection's tax_zone_map",
            hint=f'Add the zone to tax_zone_map (e.g. "{zone}": <QuickBooks sales tax item at '
            "the zone's rate>), then retry the record.",
        )
    if invoice.business_unit and invoice.business_unit in mapping.tax_item_map:
        return mapping.tax_item_map[invoice.business_unit]
    return mapping.sales_tax_item
