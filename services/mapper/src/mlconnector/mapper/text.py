"""Text headed for QuickBooks: transliterated, cut to the schema's limits, and every change noted.

QuickBooks stores ISO-8859-1 only and each field has a length limit. The mapper never sends
text QuickBooks would mangle, and it never changes text silently either: `TextNotes` records
which fields were transliterated or shortened, and the command's summary (shown in audit)
names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlconnector.common.qbxml import to_qb_text

_SPACE_RE = re.compile(r"\s+")


def flatten(text: str) -> str:
    """Whitespace collapsed to single spaces, trimmed: names and address lines are one line."""
    return _SPACE_RE.sub(" ", text).strip()


@dataclass
class TextNotes:
    """Which fields of one command had their text changed on the way to QuickBooks."""

    transliterated: list[str] = field(default_factory=list)
    shortened: list[str] = field(default_factory=list)

    def text(
        self, label: str, value: str, max_length: int | None = None, *, single_line: bool = False
    ) -> str:
        """`value` as QuickBooks can store it; `label` names the field in the notes."""
        converted = to_qb_text(value)
        if converted != value:
            self._add(self.transliterated, label)
        converted = flatten(converted) if single_line else converted.strip()
        if max_length is not None and len(converted) > max_length:
            self._add(self.shortened, label)
            converted = converted[:max_length]
            if single_line:
                converted = converted.rstrip()
        return converted

    def shortened_to(self, label: str) -> None:
        """Record a shortening done by a rule of its own (e.g. a name with its id suffix)."""
        self._add(self.shortened, label)

    @staticmethod
    def _add(target: list[str], label: str) -> None:
        if label not in target:
            target.append(label)

    def suffix(self) -> str:
        """' [transliterated: ...; shortened: ...]' for the summary, or '' when nothing changed."""
        parts = []
        if self.transliterated:
            parts.append("transliterated for QuickBooks: " + ", ".join(self.transliterated))
        if self.shortened:
            parts.append("shortened to QuickBooks' limits: " + ", ".join(self.shortened))
        return f" [{'; '.join(parts)}]" if parts else ""
