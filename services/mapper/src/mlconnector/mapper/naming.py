"""QuickBooks-safe names, numbers and amounts: ISO-8859-1 text cut to the schema's limits."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import GLAccount
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import to_qb_text
from mlconnector.mapper.text import TextNotes

# Limits from qbxml130.xsd / qbxmlops130.xsd (maxLength of each element's STRTYPE).
NAME_MAX = 41  # Customer/Vendor Name (one level of a Customer:Job FullName)
ITEM_NAME_MAX = 31  # item / account / class Name (one level)
INVOICE_REF_MAX = 11  # InvoiceAdd RefNumber
TXN_REF_MAX = 20  # BillAdd and ReceivePaymentAdd RefNumber
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


def qb_name(
    name: str,
    st_id: int,
    max_length: int = NAME_MAX,
    *,
    always_suffix: bool = False,
    notes: TextNotes | None = None,
    label: str = "Name",
) -> str:
    """A customer/vendor Name that is stable for the same ServiceTitan record.

    ':' separates parent and job in a QuickBooks FullName, so it cannot appear in a name.
    When the name must be cut, the ServiceTitan id is kept as a suffix so that two long names
    sharing their first 41 characters still get distinct QuickBooks names (names are unique
    across customers, vendors and employees together). `always_suffix` (mapping setting
    `name_id_suffix: always`) suffixes every name, as ServiceTitan's own integration can, so
    that two customers both called "John Smith" never collide.
    """
    if notes is not None and to_qb_text(name) != name:
        notes.text(label, name)  # records the transliteration
    # After transliteration: some characters only become ':' there (e.g. Syriac U+0705).
    clean = single_line(name).replace(":", "-")
    if not clean:
        return f"ServiceTitan #{st_id}"[:max_length]
    suffix = f" #{st_id}"
    if len(clean) <= max_length and not always_suffix:
        return clean
    if len(clean) + len(suffix) <= max_length:
        return f"{clean}{suffix}"
    if notes is not None:
        notes.shortened_to(label)
    head = clean[: max_length - len(suffix)].rstrip()
    return f"{head}{suffix}"


def ref_number(number: str, max_length: int) -> tuple[str, bool]:
    """(RefNumber, whether it was cut). The end of a number is its distinctive part."""
    clean = single_line(number)
    if len(clean) <= max_length:
        return clean, False
    return clean[-max_length:], True


def invoice_ref_number(number: str) -> tuple[str, bool]:
    return ref_number(number, INVOICE_REF_MAX)


def item_full_name(sku_name: str, mapping: MappingSettings) -> str:
    mapped = mapping.item_map.get(sku_name)
    if mapped:
        return mapped
    clean = single_line(sku_name)
    # A cut SKU name would reference an item nobody created; the default item is explicit.
    if clean and len(clean) <= ITEM_NAME_MAX and ":" not in clean:
        return clean
    return mapping.default_item


def list_name(text: str, max_length: int = ITEM_NAME_MAX) -> str:
    """One level of an item/account/class name: one line, no ':', within the limit."""
    return single_line(text).replace(":", "-")[:max_length].rstrip()


def account_full_name(gl: GLAccount | None, mapping: MappingSettings, default: str) -> str:
    """The QuickBooks account a ServiceTitan GL account posts to.

    `gl_account_map` is looked up by the account's name, then by its number; an unmapped
    account posts to the QuickBooks account of the same name (contractors usually keep the two
    charts of accounts alike; a missing one fails in QuickBooks with a message naming it).
    """
    if gl is None:
        return default
    for key in (gl.name, gl.number):
        if key is not None and key in mapping.gl_account_map:
            return mapping.gl_account_map[key]
    return list_name(gl.name) or default


def gl_item_name(gl: GLAccount | None, mapping: MappingSettings) -> str:
    """The item that stands for a GL account (item strategy 'gl_account')."""
    if gl is None:
        return mapping.default_item
    mapped = mapping.item_map.get(gl.name)
    if mapped:
        return mapped
    whole = single_line(mapping.gl_item_prefix + gl.name).replace(":", "-")
    if not whole:
        return mapping.default_item
    if len(whole) <= ITEM_NAME_MAX:
        return whole
    # Cut names of two GL accounts could meet: the account's number (or id) keeps them apart.
    key = gl.number or (str(gl.id) if gl.id is not None else "")
    suffix = f" #{key}" if key else ""
    return whole[: ITEM_NAME_MAX - len(suffix)].rstrip() + suffix


def class_full_name(business_unit: str | None, mapping: MappingSettings) -> str | None:
    """The QuickBooks class of a business unit, when classes are on."""
    if not mapping.class_from_business_unit or not business_unit:
        return None
    mapped = mapping.class_map.get(business_unit)
    return mapped or list_name(business_unit) or None


def terms_name(terms: str | None, mapping: MappingSettings) -> str | None:
    """Mapped terms only: a terms name QuickBooks does not have would fail the record."""
    if terms and terms in mapping.terms_map:
        return mapping.terms_map[terms]
    return mapping.default_terms


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
