"""QuickBooks stores ISO-8859-1 only: transliterate the rest, and cut to field limits."""

from __future__ import annotations

import unicodedata

_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u2022": "*", "\u20ac": "EUR", "\u2122": "(TM)",
}


def to_qb_text(text: str, max_length: int | None = None) -> str:
    out: list[str] = []
    for char in text:
        if char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
            continue
        try:
            char.encode("iso-8859-1")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char)
            ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
            out.append(ascii_only or "?")
        else:
            # Control characters are not valid in XML 1.0 text; drop all but tab/newline.
            if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
                continue
            out.append(char)
    result = "".join(out)
    return result[:max_length] if max_length is not None else result
