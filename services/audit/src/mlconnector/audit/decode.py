"""Stream message -> the envelope it carries, chosen by its subject before anything is parsed.

ST_EVENTS carries events (`st.events.`), st-ingest's unreadable records (`st.rejected.`),
feed reports (`st.feeds.`) and what it wrote back to ServiceTitan (`st.writeback.`);
QB_OUTCOMES carries outcomes (`qb.outcomes.`) and the gateway's Web Connector session reports
(`qb.sessions.`). Each is decoded as its own envelope.
"""

from __future__ import annotations

from nats.aio.msg import Msg

from mlconnector.audit.eventhead import EventHead
from mlconnector.audit.writes import Incoming
from mlconnector.common.envelopes import (
    Command,
    FeedReport,
    Outcome,
    QbChange,
    SessionReport,
    StRejection,
    WriteBack,
)


class UnknownSubjectError(ValueError):
    """A subject audit has no envelope for (a stream grew a subject audit does not know)."""


def _stream_seq(msg: Msg) -> int | None:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:  # a message not delivered by JetStream (tests, benchmarks)
        return None


def decode(msg: Msg) -> Incoming:
    """The message as an Incoming; raises pydantic's ValidationError (a ValueError) for a
    body that is not its subject's envelope, UnknownSubjectError for another subject."""
    subject = msg.subject
    data = msg.data
    # The stream sequence is kept for events, commands and rejections (the trail shows it);
    # reading it parses the delivery's reply subject, so only for those.
    if subject.startswith("st.events."):
        event = EventHead.model_validate_json(data)
        msg_id = (msg.headers or {}).get("Nats-Msg-Id") or event.message_id
        return Incoming(msg_id, _stream_seq(msg), event=event, data=data)
    if subject.startswith("qb.outcomes."):
        outcome = Outcome.model_validate_json(data)
        return Incoming(outcome.outcome_id, None, outcome=outcome)
    if subject.startswith("qb.commands."):
        command = Command.model_validate_json(data)
        return Incoming(command.command_id, _stream_seq(msg), command=command)
    if subject.startswith("qb.changes."):
        change = QbChange.model_validate_json(data)
        return Incoming(change.change_id, None, change=change)
    if subject.startswith("qb.sessions."):
        session = SessionReport.model_validate_json(data)
        return Incoming(session.report_id, None, session=session)
    if subject.startswith("st.feeds."):
        feed = FeedReport.model_validate_json(data)
        return Incoming(feed.report_id, None, feed=feed)
    if subject.startswith("st.rejected."):
        rejection = StRejection.model_validate_json(data)
        # Keyed by content: the same unreadable record published again is one row.
        return Incoming(rejection.rejection_id, _stream_seq(msg), rejection=rejection)
    if subject.startswith("st.writeback."):
        writeback = WriteBack.model_validate_json(data)
        return Incoming(writeback.write_id, None, writeback=writeback)
    raise UnknownSubjectError(f"audit has no envelope for subject {subject!r}")
