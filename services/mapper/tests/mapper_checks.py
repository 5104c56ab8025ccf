"""Checks shared by the mapper's tests: schema validity and golden files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lxml import etree

from mlconnector.common.envelopes import FRESH_EDIT_SEQUENCE, LINE_ID_PREFIX, SELF_ID
from mlconnector.common.qbxml import Request, build_message, element_from_string
from mlconnector.common.qbxml.schema import validate

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
# Set to regenerate the golden files after a deliberate change (then review the diff).
UPDATE_ENV = "MLCONNECTOR_UPDATE_GOLDEN"

# What the gateway puts in place of a Mod's placeholders: a ListID and an EditSequence of the
# forms QuickBooks gives.
SAMPLE_LIST_ID = "80000001-1234567890"
SAMPLE_TXN_ID = "1A2B-1234567890"
SAMPLE_EDIT_SEQUENCE = "1234567890"
_LINE_ID = re.compile(re.escape(f">{LINE_ID_PREFIX}") + r"[^<]*<")


def assert_valid(*fragments: str) -> str:
    """Wrap fragments as the gateway will, and validate the message against qbXML 13.0."""
    message = build_message(
        [Request(str(i), element_from_string(f)) for i, f in enumerate(fragments, start=1)]
    )
    validate(message)  # raises QbxmlSchemaError naming the first violation
    return message


def with_sample_ids(mod_qbxml: str) -> str:
    """A Mod or void as the gateway sends it, the placeholders replaced by valid values: the
    record's ListID/TxnID, a fresh EditSequence, each line's TxnLineID (-1: a new line)."""
    assert f"<ListID>{SELF_ID}</ListID>" in mod_qbxml or f"<TxnID>{SELF_ID}</TxnID>" in mod_qbxml
    sample = SAMPLE_LIST_ID if f"<ListID>{SELF_ID}" in mod_qbxml else SAMPLE_TXN_ID
    filled = mod_qbxml.replace(f">{SELF_ID}<", f">{sample}<").replace(
        f">{FRESH_EDIT_SEQUENCE}<", f">{SAMPLE_EDIT_SEQUENCE}<"
    )
    return _LINE_ID.sub(">-1<", filled)


def pretty(fragment: str) -> str:
    """Indented, one element per line: the golden files' form (text content is untouched)."""
    element = element_from_string(fragment)
    return str(etree.tostring(element, encoding="unicode", pretty_print=True))


def assert_golden(name: str, fragment: str) -> None:
    """`fragment` must be exactly the golden file's qbXML (compared in its indented form)."""
    path = GOLDEN_DIR / name
    actual = pretty(fragment)
    if os.environ.get(UPDATE_ENV):
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from the golden file (set {UPDATE_ENV}=1 to update)"
    # And the golden file, read back, is the very same XML as the command's single line.
    assert etree.tostring(element_from_string(expected), encoding="unicode") == fragment
