"""Write-back: what QuickBooks posted is marked exported in ServiceTitan.

Consumes QB_OUTCOMES (`qb.outcomes.>` only: the stream also carries `qb.sessions.>`) on the
durable consumer `st-ingest-writeback`, shared by the replicas. An outcome counts when
QuickBooks holds the record: status "posted" or "differs" (posted, other amounts), not a
prerequisite (an item, a job), with its TxnID. Per the connection's mapping:

- invoices (`mark_invoices_exported`): `invoices/markasexported` with the TxnID as
  `externalId` (tenant-accounting-v2.json MarkInvoiceAsExportedUpdateRequest);
- inventory bills (`mark_bills_exported`): `inventory-bills/markasexported`;
- payments (`mark_payments_exported`): `payments/status` Exported (payments have no
  markasexported; the call is all or nothing, so a refused batch is retried one by one).

Outcomes fetched together are sent together (one call per tenant and kind). ServiceTitan
answers per item (`success`, `errorMessage`): a refused item or a call that failed is
redelivered after ST_WRITEBACK_RETRY_SECONDS, up to ST_WRITEBACK_ATTEMPTS, then given up;
each result is published as a `WriteBack` (st.writeback.<tenant>.<entity>) for audit.
Customer/vendor outcomes are read too: they link QuickBooks ListIDs to ServiceTitan ids for
the changes coming back from QuickBooks (changes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from mlconnector.common.envelopes import Outcome, WriteBack, WriteBackAction
from mlconnector.common.streams import QB_OUTCOMES
from mlconnector.ingest.auth import StAuthError
from mlconnector.ingest.client import StApiError, StClient
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.state import Link, StState
from mlconnector.ingest.tenants import TenantDirectory

log = logging.getLogger(__name__)

DURABLE = "st-ingest-writeback"
IN_QUICKBOOKS = ("posted", "differs")
BATCH = 100


@dataclass
class Item:
    msg: Msg
    outcome: Outcome
    attempt: int


def _external_message(outcome: Outcome) -> str:
    """The externalMessage: where the invoice went, for whoever reads it in ServiceTitan."""
    text = f"Posted to QuickBooks Desktop by ml-connector (TxnID {outcome.qb_id})"
    if outcome.status == "differs":
        text += "; QuickBooks computed other amounts, see the audit trail"
    return text


class WriteBackWorker:
    def __init__(
        self,
        js: JetStreamContext,
        directory: TenantDirectory,
        publisher: EventPublisher,
        state: StState,
        attempts: int = 5,
        retry_seconds: float = 30.0,
    ) -> None:
        self._js = js
        self._directory = directory
        self._publisher = publisher
        self._state = state
        self._attempts = attempts
        self._retry = retry_seconds
        self.done = 0
        self.failed = 0

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._js.pull_subscribe(
            "qb.outcomes.>",
            durable=DURABLE,
            stream=QB_OUTCOMES.name,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=120,
                max_ack_pending=10_000,
            ),
        )
        while not stop.is_set():
            try:
                msgs = await sub.fetch(BATCH, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception as exc:
                log.error("write-back cannot read QB_OUTCOMES: %s", exc)
                await asyncio.sleep(1.0)
                continue
            try:
                await self.handle(msgs)
            except Exception as exc:  # never lose them: redelivered after a pause
                log.error("write-back failed for a batch (retried): %s", exc)
                for msg in msgs:
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=self._retry)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def handle(self, msgs: list[Msg]) -> None:
        """Sort a batch of outcomes: write back what QuickBooks holds, ack the rest."""
        groups: dict[tuple[str, str], list[Item]] = {}
        for msg in msgs:
            try:
                outcome = Outcome.model_validate_json(msg.data)
            except ValidationError:
                await msg.ack()  # not an outcome (nothing to write back)
                continue
            if outcome.status not in IN_QUICKBOOKS or outcome.prerequisite or not outcome.qb_id:
                await msg.ack()
                continue
            if outcome.entity in ("customer", "vendor"):
                await self._state.save_link(
                    outcome.connection,
                    outcome.entity,
                    outcome.qb_id,
                    Link(st_id=outcome.st_id, edit_sequence=outcome.edit_sequence),
                )
                await msg.ack()
                continue
            found = self._directory.for_connection(outcome.connection)
            if found is None and outcome.connection not in self._directory.connections:
                await msg.ack()  # connection removed: nothing to write to
                continue
            connection = self._directory.connections[outcome.connection]
            mapping = connection.mapping
            wanted = {
                "invoice": mapping.mark_invoices_exported,
                "bill": mapping.mark_bills_exported,
                "payment": mapping.mark_payments_exported,
            }.get(outcome.entity, False)
            if not wanted:
                await msg.ack()
                continue
            attempt = int(msg.metadata.num_delivered or 1)
            groups.setdefault((outcome.connection, outcome.entity), []).append(
                Item(msg, outcome, attempt)
            )
        for (connection_name, entity), items in groups.items():
            found = self._directory.for_connection(connection_name)
            client = found[1].client if found else None
            if client is None:
                problem = (
                    found[1].problem
                    if found
                    else f"tenant of connection {connection_name} is not served"
                ) or "ServiceTitan is not reachable for this tenant"
                await self._settle(items, {i.outcome.st_id: problem for i in items}, entity)
                continue
            results = await self._send(client, entity, items)
            await self._settle(items, results, entity)

    async def _send(
        self, client: StClient, entity: str, items: list[Item]
    ) -> dict[int, str | None]:
        try:
            if entity == "invoice":
                return await client.mark_invoices_exported(
                    [
                        (i.outcome.st_id, i.outcome.qb_id, _external_message(i.outcome))
                        for i in items
                    ]
                )
            if entity == "bill":
                return await client.mark_bills_exported([i.outcome.st_id for i in items])
            return await self._payments(client, [i.outcome.st_id for i in items])
        except (StApiError, StAuthError) as exc:
            return {i.outcome.st_id: str(exc) for i in items}

    async def _payments(self, client: StClient, ids: list[int]) -> dict[int, str | None]:
        try:
            await client.set_payment_status(ids, "Exported")
            return dict.fromkeys(ids)
        except StApiError as exc:
            if exc.status != 400 or len(ids) == 1:
                raise
        # All or nothing: one bad payment refuses the batch; find it by sending each alone.
        results: dict[int, str | None] = {}
        for payment_id in ids:
            try:
                await client.set_payment_status([payment_id], "Exported")
                results[payment_id] = None
            except StApiError as exc:
                results[payment_id] = str(exc)
        return results

    async def _settle(self, items: list[Item], results: dict[int, str | None], entity: str) -> None:
        action: WriteBackAction = "payment_status" if entity == "payment" else "mark_exported"
        for item in items:
            outcome = item.outcome
            error = results.get(outcome.st_id, "ServiceTitan did not answer for this record")
            if error is None:
                status = "done"
            elif item.attempt < self._attempts:
                status = "retrying"
            else:
                status = "failed"
            await self._publisher.write_back(
                WriteBack(
                    connection=outcome.connection,
                    tenant=outcome.tenant,
                    entity=outcome.entity,
                    st_id=outcome.st_id,
                    action=action,
                    status=status,
                    qb_id=outcome.qb_id,
                    source_id=outcome.outcome_id,
                    attempt=item.attempt,
                    max_attempts=self._attempts,
                    error=_plain(error, outcome) if error else None,
                )
            )
            if status == "retrying":
                log.warning(
                    "%s %s not marked exported in ServiceTitan (attempt %d of %d, retried): %s",
                    outcome.entity,
                    outcome.st_id,
                    item.attempt,
                    self._attempts,
                    error,
                )
                await item.msg.nak(delay=self._retry)
                continue
            if status == "failed":
                self.failed += 1
                log.error(
                    "%s %s could not be marked exported in ServiceTitan: %s",
                    outcome.entity,
                    outcome.st_id,
                    error,
                )
            else:
                self.done += 1
            await item.msg.ack()


def _plain(error: str, outcome: Outcome) -> str:
    what = {
        "invoice": "invoice",
        "bill": "inventory bill",
        "payment": "payment",
    }.get(outcome.entity, outcome.entity)
    return (
        f"ServiceTitan did not mark {what} {outcome.st_id} exported: {error}. QuickBooks has "
        f"it (TxnID {outcome.qb_id}); mark it exported in ServiceTitan by hand if this persists."
    )
