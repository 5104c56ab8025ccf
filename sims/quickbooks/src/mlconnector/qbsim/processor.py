"""qbXML request document in, qbXML response document out, as QuickBooks Desktop answers.

What QuickBooks does, and this module does too:

- The whole message is refused (the Web Connector reports HRESULT 0x80040400, "QuickBooks found
  an error when parsing the provided XML text stream") when it is not well-formed, lacks the
  `<?qbxml version?>` instruction, asks for a qbXML version newer than 13.0, or breaks the
  schema (element order, unknown elements, bad values). Raised here as `QbxmlParseError`.
- A string longer than its field allows is not a parse error: that one request fails with
  status 3070 and the others are processed.
- Every `*Rs` carries statusCode, statusSeverity and statusMessage and echoes requestID.
- `onError="stopOnError"` stops at the first request whose status is an Error; the requests
  after it are neither processed nor answered. `continueOnError` answers every request.
- Queries: nothing found -> status 1 (Info); a ListID/FullName/TxnID asked for by name that
  does not exist -> status 500 (Warn), with whatever else was found.
- Iterators (`iterator="Start"`, then `"Continue"` with the `iteratorID`): each answer holds at
  most MaxReturned records and carries iteratorRemainingCount and iteratorID; an unknown (or
  finished) iteratorID is refused with 3391. See `iterators.py`.

Request types this simulator does not implement are refused like a request the QuickBooks
version does not support (0x80040400), naming the request, so a test never passes silently.
New types: `QbxmlProcessor.register("XxxRq", handler)`, or a line in `handlers.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from mlconnector.common.qbxml.status import severity_of
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.documents import read_message, too_long_requests
from mlconnector.qbsim.errors import QbError, QbxmlParseError
from mlconnector.qbsim.handlers import DEFAULT_HANDLERS
from mlconnector.qbsim.iterators import run_iterator
from mlconnector.qbsim.outcomes import Handler, Outcome
from mlconnector.qbsim.request_fields import texts_of

__all__ = ["Handler", "Outcome", "QbxmlParseError", "QbxmlProcessor", "process"]


@dataclass(frozen=True)
class QbxmlProcessor:
    """Runs qbXML messages against one company file."""

    company: Company
    handlers: dict[str, Handler] = field(default_factory=lambda: dict(DEFAULT_HANDLERS))

    def register(self, request_tag: str, handler: Handler) -> None:
        self.handlers[request_tag] = handler

    def process(self, request_xml: str | bytes) -> str:
        root, msgs = read_message(request_xml)
        too_long = too_long_requests(root, msgs)
        requests = [r for r in msgs if isinstance(r.tag, str)]
        for request in requests:
            if request.tag not in self.handlers:
                raise QbxmlParseError(f"the simulator does not implement <{request.tag}>")
        # rollbackOnError: QuickBooks Desktop never rolls back requests it already committed
        # in a message; the simulator treats it as stopOnError.
        stop_on_error = msgs.get("onError") != "continueOnError"
        include_rets = msgs.get("responseData", "includeAll") != "includeNone"

        out_root = etree.Element("QBXML")
        out_msgs = etree.SubElement(out_root, "QBXMLMsgsRs")
        for index, request in enumerate(requests):
            outcome = self._run(request, too_long.get(index))
            response = etree.SubElement(out_msgs, request.tag.removesuffix("Rq") + "Rs")
            request_id = request.get("requestID")
            if request_id is not None:
                response.set("requestID", request_id)
            response.set("statusCode", str(outcome.code))
            response.set("statusSeverity", severity_of(outcome.code))
            response.set("statusMessage", outcome.message)
            if outcome.iterator is not None:
                remaining, iterator_id = outcome.iterator
                response.set("iteratorRemainingCount", str(remaining))
                response.set("iteratorID", iterator_id)
            if include_rets:
                wanted = set(texts_of(request, "IncludeRetElement"))
                for ret in outcome.rets:
                    if wanted:
                        # IncludeRetElement: only the named top-level elements come back.
                        for child in list(ret):
                            if child.tag not in wanted:
                                ret.remove(child)
                    response.append(ret)
            if stop_on_error and severity_of(outcome.code) == "Error":
                break
        body: str = etree.tostring(out_root, encoding="unicode", pretty_print=True)
        return f'<?xml version="1.0" ?>\n{body}'

    def _run(self, request: etree._Element, too_long: QbError | None) -> Outcome:
        if too_long is not None:
            return Outcome([], too_long.code, too_long.message)
        handler = self.handlers[request.tag]
        try:
            if request.get("iterator") is not None:
                return run_iterator(self.company, handler, request)
            with self.company.transaction():
                return handler(self.company, request)
        except QbError as error:
            return Outcome([], error.code, error.message)


def process(company: Company, request_xml: str | bytes) -> str:
    """One qbXML message against `company`; raises QbxmlParseError when QB would refuse it."""
    return QbxmlProcessor(company).process(request_xml)
