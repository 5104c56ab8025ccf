"""QuickBooks-safe names, numbers and amounts: ISO-8859-1 text within the schema's limits.

Names of accounts, classes, items and Customer:Job are hierarchical in QuickBooks: ':'
separates a parent from its child ("Job Materials:Plumbing Parts" is the sub-account
"Plumbing Parts" of "Job Materials"). A name that refers to something in the company file is
kept whole, ':' included, and checked level by level (`full_name`); one that cannot fit is a
MappingError naming the level, never cut or rewritten (a rewritten name refers to nothing:
QuickBooks answers 3140). Only names the connector creates itself and that are one level
(a customer's or vendor's Name, a job's Name) have ':' replaced and are shortened, keeping the
ServiceTitan id.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from mlconnector.common.envelopes import record_guid
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import GLAccount
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import to_qb_text
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.text import TextNotes

# Limits from qbxml130.xsd / qbxmlops130.xsd (maxLength of each element's STRTYPE).
NAME_MAX = 41  # Customer/Vendor Name (one level of a Customer:Job FullName)
ITEM_NAME_MAX = 31  # item / account / class Name (one level)
LIST_FULL_NAME_MAX = 159  # ListRef FullName (accounts, classes, items)
CUSTOMER_FULL_NAME_MAX = 209  # CustomerRef FullName (Customer:Job)
SEPARATOR = ":"  # QuickBooks' hierarchy separator in a FullName
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


def _levels(text: str) -> list[str]:
    """The levels of a hierarchical name, each one line of QuickBooks-safe text.

    Split on ServiceTitan's own ':' first: a character that only becomes ':' when
    transliterated (e.g. Syriac U+0705) is not a separator and becomes '-'.
    """
    return [single_line(level).replace(SEPARATOR, "-") for level in text.split(SEPARATOR)]


def full_name(
    kind: str,
    text: str,
    *,
    what: str,
    hint: str,
    level_max: int = ITEM_NAME_MAX,
    full_max: int = LIST_FULL_NAME_MAX,
) -> str:
    """`text` as a QuickBooks FullName, hierarchy kept ("Job Materials:Plumbing Parts").

    Each level is at most `level_max` characters (31 for accounts, classes and items, 41 for
    customers and jobs: qbxml130.xsd's Name limits) and the whole at most `full_max` (159,
    209 for Customer:Job). Raises MappingError naming the level that does not fit (or the
    empty level), with `hint` saying how to map it; `what` names where the name comes from.
    """
    levels = _levels(text)
    whole = SEPARATOR.join(levels)
    if any(not level for level in levels):
        raise MappingError(
            f"the QuickBooks {kind} name {whole!r} ({what}) has an empty level between ':' "
            "separators",
            hint=hint,
        )
    for level in levels:
        if len(level) > level_max:
            raise MappingError(
                f"the QuickBooks {kind} name {whole!r} ({what}) cannot be used: its level "
                f"{level!r} is {len(level)} characters and QuickBooks allows {level_max} per "
                "level",
                hint=hint,
            )
    if len(whole) > full_max:
        raise MappingError(
            f"the QuickBooks {kind} name {whole!r} ({what}) is {len(whole)} characters; "
            f"QuickBooks allows {full_max} for a whole {kind} name",
            hint=hint,
        )
    return whole


def fits_as_full_name(text: str, level_max: int = ITEM_NAME_MAX) -> bool:
    """Whether `text` is usable as a FullName as it is (no level empty or too long)."""
    levels = _levels(text)
    return (
        all(0 < len(level) <= level_max for level in levels)
        and len(SEPARATOR.join(levels)) <= LIST_FULL_NAME_MAX
    )


def item_full_name(sku_name: str, mapping: MappingSettings) -> str:
    """The QuickBooks item of a ServiceTitan SKU (item strategy 'sku').

    `item_map` first; else the item named like the SKU, hierarchy kept ("Parts:PVC-075").
    A SKU name QuickBooks could not hold as an item name (a level over 31 characters) has no
    item of its own: the line posts to `default_item` (the line's Desc keeps the SKU name).
    """
    mapped = mapping.item_map.get(sku_name)
    if mapped:
        return mapped
    if fits_as_full_name(sku_name):
        return SEPARATOR.join(_levels(sku_name))
    return mapping.default_item


def account_full_name(
    gl: GLAccount | None, mapping: MappingSettings, default: str, what: str = ""
) -> str:
    """The QuickBooks account a ServiceTitan GL account posts to.

    `gl_account_map` is looked up by the account's name, then by its number; an unmapped
    account posts to the QuickBooks account of the same name, sub-accounts included
    ("Job Materials:Plumbing Parts"): contractors usually keep the two charts of accounts
    alike; a missing one fails in QuickBooks with a message naming it. Raises MappingError
    when the name cannot be a QuickBooks account name (a level over 31 characters).
    """
    if gl is None:
        return default
    for key in (gl.name, gl.number):
        if key is not None and key in mapping.gl_account_map:
            return mapping.gl_account_map[key]
    if not gl.name.strip():
        return default
    number = f" {gl.number}" if gl.number else ""
    return full_name(
        "account",
        gl.name,
        what=f"ServiceTitan GL account{number}{', ' + what if what else ''}",
        hint=f"Map it in the connection's gl_account_map (ServiceTitan account name or number "
        f'-> QuickBooks account, e.g. "{gl.number or gl.name}": "Job Materials:Plumbing"), '
        "then retry the record.",
    )


def gl_item_levels(gl: GLAccount, mapping: MappingSettings) -> list[str]:
    """The levels of the item that stands for a GL account (item strategy 'gl_account').

    The items mirror the account tree: the GL account "Job Materials:Plumbing Parts" is the
    sub-item "Plumbing Parts" of the item "Job Materials" (`gl_item_prefix` goes before the
    top level). The connector creates these items, so a leaf level over 31 characters is
    shortened, keeping the account's number (or id) so that two cut names never meet; a
    parent level that does not fit raises MappingError.
    """
    levels = _levels(mapping.gl_item_prefix + gl.name)
    what = f"the item for ServiceTitan GL account {gl.name!r}"
    hint = (
        "Map the GL account to an existing QuickBooks item in item_map (or shorten "
        "gl_item_prefix), then retry the record."
    )
    if any(not level for level in levels):
        raise MappingError(
            f"{what}: the name {SEPARATOR.join(levels)!r} has an empty level", hint=hint
        )
    for level in levels[:-1]:
        if len(level) > ITEM_NAME_MAX:
            raise MappingError(
                f"{what}: its parent level {level!r} is {len(level)} characters and QuickBooks "
                f"allows {ITEM_NAME_MAX} per level",
                hint=hint,
            )
    leaf = levels[-1]
    if len(leaf) > ITEM_NAME_MAX:
        key = gl.number or (str(gl.id) if gl.id is not None else "")
        suffix = f" #{key}" if key else ""
        levels[-1] = leaf[: ITEM_NAME_MAX - len(suffix)].rstrip() + suffix
    if len(SEPARATOR.join(levels)) > LIST_FULL_NAME_MAX:
        raise MappingError(
            f"{what}: the name {SEPARATOR.join(levels)!r} is longer than QuickBooks' "
            f"{LIST_FULL_NAME_MAX} characters",
            hint=hint,
        )
    return levels


def gl_item_name(gl: GLAccount | None, mapping: MappingSettings) -> str:
    """The FullName of the item that stands for a GL account (`gl_item_levels`)."""
    if gl is None:
        return mapping.default_item
    mapped = mapping.item_map.get(gl.name)
    if mapped:
        return mapped
    if not single_line(mapping.gl_item_prefix + gl.name):
        return mapping.default_item
    return SEPARATOR.join(gl_item_levels(gl, mapping))


def class_full_name(business_unit: str | None, mapping: MappingSettings) -> str | None:
    """The QuickBooks class of a business unit, when classes are on: `class_map`, else the
    class named like the unit, hierarchy kept. Raises MappingError when the unit's name
    cannot be a QuickBooks class name (a level over 31 characters)."""
    if not mapping.class_from_business_unit or not business_unit:
        return None
    mapped = mapping.class_map.get(business_unit)
    if mapped:
        return mapped
    if not single_line(business_unit):
        return None
    return full_name(
        "class",
        business_unit,
        what=f"from ServiceTitan business unit {business_unit!r}",
        hint="Map the business unit to a QuickBooks class in the connection's class_map, then "
        "retry the record.",
    )


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
    """A command id as a qbXML GUIDTYPE ({8-4-4-4-12}, upper-case hex)."""
    hexpart = command_id.removeprefix("cmd-")
    if len(hexpart) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexpart):
        raise ValueError(f"not a command id: {command_id!r}")
    h = hexpart.upper()
    return "{" + f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" + "}"


def transaction_guid(connection: str, entity: str, st_id: int) -> str:
    """The ExternalGUID of the record's transaction (`envelopes.record_guid`).

    It names the ServiceTitan record, not a version or an attempt: a lookup made for any
    version finds the transaction an earlier version posted, so the record is added once.
    """
    return record_guid(connection, entity, st_id)
