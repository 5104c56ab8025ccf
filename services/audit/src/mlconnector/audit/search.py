"""Searching records by what people type: words of the reference (invoice number, payment or
bill reference), of the customer or vendor name, and the ServiceTitan id.

Each record's words are kept in `record_words` (written with the record, from its newest
ServiceTitan version); a search term matches a record when some word of it starts with the
term, any case, and every term must match ("hern 5001"). Word prefixes are index ranges, on
SQLite and PostgreSQL alike, so a search does not read every record.
"""

from __future__ import annotations

import re

# Letters and digits of any script (José stays josé): words compare by code point.
_WORD = re.compile(r"[^\W_]+")
MAX_WORD = 100


def words_of(text: str) -> list[str]:
    """'Hernandez, Maria' -> ['hernandez', 'maria']; 'INV-5001' -> ['inv', '5001']."""
    return [w[:MAX_WORD] for w in _WORD.findall(text.casefold())]


def search_words(reference: str | None, party: str | None, st_id: int | None) -> set[str]:
    """The words a record is found by."""
    found: set[str] = set()
    for text in (reference, party):
        if text:
            found.update(words_of(text))
    if st_id is not None and st_id >= 0:
        found.add(str(st_id))
    return found


def prefix_range(term: str) -> tuple[str, str]:
    """[low, high) of the words starting with `term` (a word of words_of), by code point."""
    return term, term[:-1] + chr(ord(term[-1]) + 1)
