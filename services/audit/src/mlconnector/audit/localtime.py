"""Times for people: in the connection's time zone, to the second, with the zone's name."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache


@lru_cache(maxsize=64)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `name` (validated where it is configured; UTC if unknown here)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local(at: dt.datetime | None, zone_name: str) -> str:
    """'2024-05-02 07:00:02 CDT' for a UTC instant; '' for None."""
    if at is None:
        return ""
    when = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return when.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M:%S %Z")


def ago(at: dt.datetime | None, now: dt.datetime) -> str:
    """'3 minutes ago', '2 hours ago', 'just now'; '' for None."""
    if at is None:
        return ""
    seconds = int((now - at).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"  # pragma: no cover


def day_start_utc(day: dt.date, zone_name: str) -> dt.datetime:
    """Midnight at the start of `day` in the zone, as UTC."""
    return dt.datetime.combine(day, dt.time(), zone(zone_name)).astimezone(dt.UTC)
