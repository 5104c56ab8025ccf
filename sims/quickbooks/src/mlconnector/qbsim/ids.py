"""QuickBooks' record identity and stamps: ListID, TxnID, EditSequence, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

Clock = Callable[[], datetime]

# ListIDs count up from here; TxnIDs and TxnLineIDs share a shorter sequence.
FIRST_LIST_SEQUENCE = 0x80000001
FIRST_TXN_SEQUENCE = 0x10


def local_now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


@dataclass(frozen=True)
class ListCore:
    list_id: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str


def format_list_id(sequence: int, now: datetime) -> str:
    # QuickBooks ListIDs: an 8-hex-digit sequence starting at 80000001, "-", and the
    # creation time in seconds since 1970 (e.g. "80000001-1700000000").
    return f"{sequence:08X}-{int(now.timestamp())}"


def format_txn_id(sequence: int, now: datetime) -> str:
    # TxnIDs and TxnLineIDs share one shorter hex sequence ("1A-1700000000").
    return f"{sequence:X}-{int(now.timestamp())}"


def edit_sequence(now: datetime, previous: str | None = None) -> str:
    # QuickBooks' EditSequence is the modification time in seconds; it must change on
    # every modification, even two in the same second.
    value = int(now.timestamp())
    if previous is not None and previous.isdigit():
        value = max(value, int(previous) + 1)
    return str(value)


def new_record_stamps(now: datetime) -> tuple[str, str, int, str]:
    """time_created, time_modified, modified_epoch, edit_sequence of a record created now."""
    stamp = now.isoformat()
    return stamp, stamp, int(now.timestamp()), edit_sequence(now)
