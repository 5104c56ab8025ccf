"""Reproducible trouble for the simulated Web Connector: QuickBooks closed, busy, slow, a lost
answer, an office manager editing a customer at the wrong moment.

A fault SPEC is a comma-separated list of `name:probability` (probability 0..1; a bare `name`
means 1.0), e.g. `qb-not-running:0.2,response-lost:0.1,slow:1.0`. Every decision is drawn from
one `random.Random(seed)`, in a fixed order, so the same seed and the same traffic (the same
gateway answers) inject the same faults; a different seed draws a different sequence.

When each probability is rolled, and what the fault does. HRESULTs are those QuickBooks' request
processor reports through the Web Connector: 0x80040408 and 0x80040401 from shared/FACTS.md
"SOAP / QBWC"; 0x80040410 and 0x8004040A (and the exact messages) from the SDK's HRESULT table
as public integrations reproduce it in their error handlers (a quickbooks-php
`_quickbooks_error_catchall` found by code search lists 0x80040408 "Could not start
QuickBooks.", 0x80040410 "The QuickBooks company data file is currently open in a mode other
than the one specified by your application.", 0x8004040A "...already open and it is different
from the one requested.").

per cycle (rolled once, after authenticate told the Web Connector to open a company):
  qb-not-running        QuickBooks cannot be started: connectionError(0x80040408,
                        "Could not start QuickBooks."); no qbXML is exchanged.
  file-open-other-mode  the company file is open in another mode (e.g. single-user on another
                        PC): connectionError(0x80040410, "The QuickBooks company data file is
                        currently open in a mode other than the one specified by your
                        application.").
per message (rolled for each qbXML message the gateway hands out; qb-busy, slow and
response-lost are all rolled, in that order, and the first that fires applies):
  qb-busy               QuickBooks cannot be accessed for this message (0x80040401 "Could not
                        access QuickBooks."): nothing is applied; receiveResponseXML carries
                        that hresult + message and an empty response.
  slow                  QuickBooks takes --latency ms per request of the message. When that is
                        longer than the per-request limit (--request-timeout, 60 s like the
                        Web Connector), the Web Connector gives up waiting: QuickBooks still
                        finishes (the company has the change), the session is abandoned without
                        receiveResponseXML, and the cycle reports the timeout.
  response-lost         QuickBooks applies the message, then the session dies before
                        receiveResponseXML: the gateway never hears the answer.
  user-edit             rolled only for a response whose CustomerQueryRs/VendorQueryRs holds a
                        record: the office manager edits one of them (picked by the same
                        generator) in QuickBooks, so its EditSequence changes before the
                        gateway's next message (the response the gateway gets is the old one).
per SOAP call (rolled before each sendRequestXML and receiveResponseXML of the session):
  http-timeout          the gateway's answer arrives after the Web Connector's HTTP timeout
                        (--http-timeout): the driver discards it, reports the timeout and
                        abandons the session (sendRequestXML: QuickBooks never sees that
                        message; receiveResponseXML: QuickBooks applied it, the gateway settled
                        it, the Web Connector never learns the percentage).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Final

QB_NOT_RUNNING: Final = "qb-not-running"
FILE_OPEN_OTHER_MODE: Final = "file-open-other-mode"
QB_BUSY: Final = "qb-busy"
SLOW: Final = "slow"
RESPONSE_LOST: Final = "response-lost"
USER_EDIT: Final = "user-edit"
HTTP_TIMEOUT: Final = "http-timeout"

PER_CYCLE: Final = (QB_NOT_RUNNING, FILE_OPEN_OTHER_MODE)
PER_MESSAGE: Final = (QB_BUSY, SLOW, RESPONSE_LOST)
PER_CALL: Final = (HTTP_TIMEOUT,)
FAULT_NAMES: Final = (*PER_CYCLE, *PER_MESSAGE, USER_EDIT, *PER_CALL)

# HRESULTs the Web Connector passes on from QuickBooks' request processor.
HRESULT_CANNOT_START_QB: Final = "0x80040408"
MESSAGE_CANNOT_START_QB: Final = "Could not start QuickBooks."
HRESULT_CANNOT_ACCESS_QB: Final = "0x80040401"
MESSAGE_CANNOT_ACCESS_QB: Final = "Could not access QuickBooks."
HRESULT_FILE_OTHER_MODE: Final = "0x80040410"
MESSAGE_FILE_OTHER_MODE: Final = (
    "The QuickBooks company data file is currently open in a mode other than the one "
    "specified by your application."
)
HRESULT_OTHER_FILE_OPEN: Final = "0x8004040A"
MESSAGE_OTHER_FILE_OPEN: Final = (
    "A QuickBooks company data file is already open and it is different from the one requested."
)

SPEC_HELP: Final = """\
fault SPEC: comma-separated name[:probability] (probability 0..1, default 1.0),
e.g. qb-not-running:0.2,response-lost:0.1,slow:1.0. Rolled with random.Random(--seed), so the
same seed and the same gateway traffic inject the same faults.
  per cycle (after authenticate):
    qb-not-running        connectionError 0x80040408 "Could not start QuickBooks."
    file-open-other-mode  connectionError 0x80040410 (company file open in another mode)
  per qbXML message (the first of qb-busy, slow, response-lost that fires applies):
    qb-busy               receiveResponseXML with hresult 0x80040401, nothing applied
    slow                  QuickBooks takes --latency ms per request; over --request-timeout
                          the Web Connector gives up (QuickBooks still applied it)
    response-lost         QuickBooks applies the message, the session dies before
                          receiveResponseXML
    user-edit             after a Customer/Vendor query answer, the office manager edits
                          that record (its EditSequence changes before the next message)
  per SOAP call in the session:
    http-timeout          the gateway's answer comes after --http-timeout: discarded,
                          session abandoned
"""


class FaultSpecError(ValueError):
    """A fault SPEC that cannot be read; the message says what is wrong and what is allowed."""


@dataclass(frozen=True)
class FaultSpec:
    probabilities: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        probabilities: dict[str, float] = {}
        if spec is None or not spec.strip():
            return cls(probabilities)
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                raise FaultSpecError(f"empty entry in fault spec {spec!r}")
            name, sep, value = item.partition(":")
            name = name.strip()
            if name not in FAULT_NAMES:
                raise FaultSpecError(
                    f"unknown fault {name!r} in {spec!r}; known: {', '.join(FAULT_NAMES)}"
                )
            if name in probabilities:
                raise FaultSpecError(f"fault {name!r} given twice in {spec!r}")
            probability = 1.0
            if sep:
                try:
                    probability = float(value)
                except ValueError:
                    raise FaultSpecError(
                        f"probability of {name!r} must be a number from 0 to 1, got {value!r}"
                    ) from None
                if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
                    raise FaultSpecError(
                        f"probability of {name!r} must be from 0 to 1, got {value!r}"
                    )
            probabilities[name] = probability
        return cls(probabilities)

    def with_default(self, name: str, probability: float) -> FaultSpec:
        """This spec, plus `name` at `probability` unless the spec already names it."""
        if name in self.probabilities:
            return self
        return FaultSpec({**self.probabilities, name: probability})

    def __str__(self) -> str:
        return ",".join(f"{name}:{p:g}" for name, p in self.probabilities.items()) or "none"

    def __bool__(self) -> bool:
        return bool(self.probabilities)


class FaultDice:
    """Every fault decision, drawn from one seeded generator in the order the driver asks.

    A fault that is not in the spec draws nothing, so adding a fault to a spec changes the
    sequence (as a different seed does) but a given spec + seed + traffic never does.
    """

    def __init__(self, spec: FaultSpec, seed: int | None = None) -> None:
        self.spec = spec
        self.seed = seed
        self.rng = random.Random(seed)

    def roll(self, name: str) -> bool:
        probability = self.spec.probabilities.get(name)
        if probability is None:
            return False
        return self.rng.random() < probability

    def first(self, names: tuple[str, ...]) -> str | None:
        """Rolls each of `names` (in that order) and returns the first that fires; every
        listed fault in the spec is rolled, so the draws do not depend on which fired."""
        fired = [name for name in names if self.roll(name)]
        return fired[0] if fired else None

    def choose(self, count: int) -> int:
        """An index in range(count), from the same generator."""
        return self.rng.randrange(count)
