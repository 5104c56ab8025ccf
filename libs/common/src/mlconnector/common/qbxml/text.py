"""QuickBooks stores ISO-8859-1 only: transliterate the rest, and cut to field limits."""

from __future__ import annotations

import unicodedata

from anyascii import anyascii


def _latin1(char: str) -> bool:
    try:
        char.encode("iso-8859-1")
    except UnicodeEncodeError:
        return False
    return True


def to_qb_text(text: str, max_length: int | None = None) -> str:
    """Keep Latin-1 as it is (QuickBooks shows "é" fine); transliterate anything else."""
    if text.isascii() and text.isprintable():
        # Nearly all text is plain ASCII; the per-character walk is the mapper's hottest loop.
        return text[:max_length] if max_length is not None else text
    out: list[str] = []
    for char in text:
        if _latin1(char):
            # Control characters are not valid in XML 1.0 text; keep only tab and newlines.
            if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
                continue
            out.append(char)
        elif unicodedata.category(char).startswith("S"):
            # Symbols and emoji: anyascii spells them out (":shower:"), which reads worse
            # on an invoice than QuickBooks' own "?".
            out.append("?")
        else:
            out.append(anyascii(char) or "?")
    result = "".join(out)
    return result[:max_length] if max_length is not None else result
