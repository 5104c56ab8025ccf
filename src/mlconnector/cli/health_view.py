"""Each connection's health as `mlconnector status` prints it (from the audit API's
`/api/health`)."""

from __future__ import annotations

from typing import Any


def health_lines(health: list[dict[str, Any]]) -> list[str]:
    """Each connection's health, as people read it."""
    if not health:
        return [
            "No connections yet: `mlconnector connection add NAME --tenant ... --qbwc-user ...`"
        ]
    lines: list[str] = []
    for h in health:
        lines.append(
            f"connection {h['connection']}"
            + (f" (tenant {h['tenant']}" if h["tenant"] else " (")
            + f"{', ' if h['tenant'] else ''}times in {h['time_zone']})"
        )
        contact = h["last_contact"]
        if contact is None:
            lines.append("  Web Connector: has never called")
        else:
            lines.append(
                f"  Web Connector: last called {contact['ago']} ({contact['at_local']}): "
                f"{contact['result_text']}"
            )
        c = h["counts"]
        lines.append(
            f"  records: {c['pending']} pending, {c['waiting']} waiting, {c['failed']} failed"
            + (f", {c['differs']} amount differs" if c["differs"] else "")
            + (f", {c['rejected']} rejected" if c["rejected"] else "")
        )
        if h["last_error"]:
            e = h["last_error"]
            lines.append(f"  last error ({e['at_local']}): {e['text']}")
        lines += [f"  WARNING: {w}" for w in h["warnings"]]
    return lines
