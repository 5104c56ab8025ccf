"""QuickBooks-safe names, numbers and amounts: ISO-8859-1 text cut to the schema's limits."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from mlconnector.common.mapping import MappingSettings
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import to_qb_text

NAME_MAX = 41  # Customer/Vendor Name
ITEM_NAME_MAX = 31  # item FullName (one level)
INVOICE_REF_MAX = 11  # InvoiceAdd RefNumber
MEMO_MAX = 4095
DESC_MAX = 4095
ADDR_MAX = 41
CITY_MAX = 31
STATE_MAX = 21
POSTAL_CODE_MAX = 13
COUNTRY_MAX = 31
PHONE_MAX = 21
EMAIL_MAX = 1023

_SPACE_RE = re.compile(r"\s+")


def single_line(text: str, max_length: int | None = None) -> str:
    """Transliterated, whitespace collapsed: names and address lines are one line in QuickBooks."""
    flat = _SPACE_RE.sub(" ", to_qb_text(text)).strip()
    return flat[:max_length].rstrip() if max_length is not None else flat


def qb_name(name: str, st_id: int, max_length: int = NAME_MAX) -> str:
    """A customer/vendor Name that is stable for the same ServiceTitan record.

    ':' separates parent and job in a QuickBooks FullName, so it cannot appear in a name.
    When the name must be cut, the ServiceTitan id is kept as a suffix so that two long names
    sharing their first 41 characters still get distinct QuickBooks names (names are unique
    across customers, vendors and employees together).
    """
    # After transliteration: some characters only become ':' there (e.g. Syriac U+0705).
    clean = single_line(name).replace(":", "-")
    if not clean:
        return f"ServiceTitan #{st_id}"[:max_length]
    if len(clean) <= max_length:
        return clean
    suffix = f" #{st_id}"
    head = clean[: max_length - len(suffix)].rstrip()
    return f"{head}{suffix}"


def invoice_ref_number(number: str) -> tuple[str, bool]:
    """(RefNumber, whether it was cut). The end of a number is its distinctive part."""
    clean = single_line(number)
    if len(clean) <= INVOICE_REF_MAX:
        return clean, False
    return clean[-INVOICE_REF_MAX:], True


def item_full_name(sku_name: str, mapping: MappingSettings) -> str:
    mapped = mapping.item_map.get(sku_name)
    if mapped:
        return mapped
    clean = single_line(sku_name)
    # A cut SKU name would reference an item nobody created; the default item is explicit.
    if clean and len(clean) <= ITEM_NAME_MAX and ":" not in clean:
        return clean
    return mapping.default_item


def _plain(value: Decimal, places: int) -> str:
    quantized = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{quantized:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def qb_quantity(value: Decimal) -> str:
    """QUANTYPE: at most 5 decimals, no exponent, no trailing zeros ("2", "1.5")."""
    return _plain(value, 5)


def qb_rate(value: Decimal) -> str:
    """PRICETYPE: whole cents keep two places ("95.00"); finer unit prices keep up to 5."""
    return qb_amount(value) if cents(value) == value else _plain(value, 5)


def external_guid(command_id: str) -> str:
    """The command id as a qbXML GUIDTYPE ({8-4-4-4-12}, upper-case hex).

    Stored on the transaction, it lets the gateway recognise an Add that already posted even
    if two invoices share a cut RefNumber.
    """
    hexpart = command_id.removeprefix("cmd-")
    if len(hexpart) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexpart):
        raise ValueError(f"not a command id: {command_id!r}")
    h = hexpart.upper()
    return "{" + f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" + "}"
