"""What a request handler answers: its Ret elements and status."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.statuses import MSG_NO_MATCH, MSG_OK, not_found


@dataclass
class Outcome:
    """What a handler produced for one request: its Ret elements and status."""

    rets: list[etree._Element] = field(default_factory=list)
    code: int = 0
    message: str = MSG_OK
    # (iteratorRemainingCount, iteratorID) of a query run with an iterator.
    iterator: tuple[int, str] | None = None


Handler = Callable[[Company, etree._Element], Outcome]


def query_outcome(rets: list[etree._Element], missing: Sequence[str]) -> Outcome:
    """A query's answer: 500 (Warn) for records named but missing, 1 (Info) for nothing found."""
    if missing:
        code, message = not_found(missing)
        return Outcome(rets, code, message)
    if not rets:
        return Outcome([], 1, MSG_NO_MATCH)
    return Outcome(rets)
