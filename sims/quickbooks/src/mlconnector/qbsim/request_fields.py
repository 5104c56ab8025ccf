"""Reading values out of a qbXML request element (the schema has already checked them)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.credits import CreditSet
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import invalid_object_id, invalid_reference
from mlconnector.qbsim.store import Store

_LIST_ID = re.compile(r"^[0-9A-Fa-f]{1,8}-\d{1,10}$")


def text_of(element: etree._Element, tag: str) -> str | None:
    found = element.find(tag)
    if found is None:
        return None
    return found.text or ""


def texts_of(element: etree._Element, tag: str) -> list[str]:
    return [child.text or "" for child in element.findall(tag)]


def decimal_of(element: etree._Element, tag: str) -> Decimal | None:
    raw = text_of(element, tag)
    if raw is None or raw == "":
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # the schema's patterns make this unreachable
        raise QbxmlParseError(f"<{tag}> {raw!r} is not a number") from exc


def boolean_of(element: etree._Element, tag: str) -> bool | None:
    raw = text_of(element, tag)
    if raw is None or raw == "":
        return None
    return raw.strip() in ("true", "1")


def date_of(element: etree._Element, tag: str) -> date | None:
    raw = text_of(element, tag)
    if raw is None or raw == "":
        return None
    return date.fromisoformat(raw.strip())


def parse_datetime(company: Store, raw: str | None) -> datetime | None:
    """DATETIMETYPE. Without an offset it is the QuickBooks PC's local time (FACTS: qbXML)."""
    if raw is None or raw.strip() == "":
        return None
    match = re.fullmatch(
        r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})"
        r"([+-]\d{1,2}:\d{1,2})?)?)?)?",
        raw.strip(),
    )
    if match is None:
        raise QbxmlParseError(f"{raw!r} is not a date-time")
    year, month, day, hour, minute, second, offset = match.groups()
    text = (
        f"{int(year):04d}-{int(month):02d}-{int(day):02d}T{int(hour or 0):02d}:"
        f"{int(minute or 0):02d}:{int(second or 0):02d}"
    )
    if offset:
        sign, hh_mm = offset[0], offset[1:].split(":")
        text += f"{sign}{int(hh_mm[0]):02d}:{int(hh_mm[1]):02d}"
        return datetime.fromisoformat(text)
    return datetime.fromisoformat(text).replace(tzinfo=company.now().tzinfo)


def ref_spec_of(element: etree._Element, tag: str) -> RefSpec | None:
    found = element.find(tag)
    if found is None:
        return None
    return RefSpec(list_id=text_of(found, "ListID"), full_name=text_of(found, "FullName"))


def address_of(element: etree._Element, tag: str) -> Address | None:
    found = element.find(tag)
    if found is None:
        return None
    return Address(**{attr: text_of(found, name) for name, attr in Address.FIELDS})


def refuse_unmodelled_refs(element: etree._Element, tags: Iterable[str], where: str) -> None:
    """References to lists this company file has no entries in (sales reps, customer types,
    price levels...).

    QuickBooks answers 3140 for a reference to a record that is not in its list; in the
    simulated company those lists are empty, so any such reference is invalid.
    """
    for tag in tags:
        spec = ref_spec_of(element, tag)
        if spec is not None:
            kind = tag.removesuffix("Ref")
            raise invalid_reference(kind, spec.shown, where)


def check_ids(values: Sequence[str], field_name: str = "list id") -> None:
    """3000 for a ListID/TxnID that cannot be a QuickBooks id at all."""
    for value in values:
        if not _LIST_ID.match(value):
            raise invalid_object_id(value, field_name)


def mod_keys(element: etree._Element, id_tag: str = "ListID") -> tuple[str, str]:
    """The ListID (or TxnID) and EditSequence a Mod starts with (ListCoreMod/TxnCoreMod)."""
    key = text_of(element, id_tag) or ""
    check_ids([key], "list id" if id_tag == "ListID" else "txn id")
    return key, text_of(element, "EditSequence") or ""


def int_of(element: etree._Element, tag: str) -> int | None:
    raw = text_of(element, tag)
    return int(raw) if raw else None


def set_credits_of(element: etree._Element) -> list[CreditSet]:
    """The SetCredit elements of an AppliedToTxnAdd (or an InvoiceAdd/InvoiceMod)."""
    credits = []
    for credit in element.findall("SetCredit"):
        if credit.find("TxnLineID") is not None:
            # The OSR marks SetCredit/TxnLineID "not in QBD|QBCA|QBUK|QBAU" (as quoted in
            # consolibyte/quickbooks-php's qbXML samples): QuickBooks Desktop has no such field.
            raise QbxmlParseError("<SetCredit><TxnLineID> is not supported by QuickBooks Desktop")
        credits.append(
            CreditSet(
                text_of(credit, "CreditTxnID") or "",
                decimal_of(credit, "AppliedAmount") or Decimal(0),
            )
        )
    return credits
