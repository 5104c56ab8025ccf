"""Several gateway replicas behind one address: any replica serves any call of a session,
and a replica that dies between sendRequestXML and receiveResponseXML loses nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlconnector.common.idmap import IdMap

from .conftest import (
    FakeQuickBooks,
    Gateway,
    customer_command,
    invoice_command,
    payment_command,
    running_gateway,
)

pytestmark = pytest.mark.nats


async def test_two_replicas_answer_alternate_calls_of_one_session(
    gateway: Gateway,
    qb: FakeQuickBooks,
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    qbwc_wsdl: Path,
    gateway_settings: dict[str, Any],
    spans: InMemorySpanExporter,
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    # Dependants first: three rounds (customer, invoice, payment) in one session.
    await gateway.publish(payment_command("acme", 7001, "PMT-7001", 1001, 5001))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001))
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))
    async with running_gateway(nc, js, nats_url, qbwc_wsdl, gateway_settings, spans) as other:
        replicas = [gateway, other]
        ticket, _ = await replicas[0].call("authenticate", "acme-qbwc", "s3cret-pass")
        percents = []
        for round_ in range(3):
            request = await replicas[(2 * round_ + 1) % 2].send(ticket)
            assert request is not None
            answer = qb.process(request)
            percents.append(
                await replicas[(2 * round_) % 2].call("receiveResponseXML", ticket, answer, "", "")
            )
        closed = await replicas[1].call("closeConnection", ticket)

    assert percents[-1] == 100
    assert closed == "Posted 3, failed 0, waiting 0, retrying 0"
    assert (len(qb.customers), len(qb.invoices), len(qb.payments)) == (1, 1, 1)
    assert qb.payments[0]["AppliedTo"] == qb.invoices[0]["TxnID"]
    assert await gateway.open_work("acme") == (0, 0)


async def test_a_replica_dying_between_send_and_receive_loses_nothing(
    gateway: Gateway,
    qb: FakeQuickBooks,
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    qbwc_wsdl: Path,
    gateway_settings: dict[str, Any],
    spans: InMemorySpanExporter,
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))
    await gateway.publish(customer_command("acme", 1002, "Nguyen, Tran"))
    async with running_gateway(nc, js, nats_url, qbwc_wsdl, gateway_settings, spans) as doomed:
        ticket, _ = await doomed.call("authenticate", "acme-qbwc", "s3cret-pass")
        request = await doomed.send(ticket)
        assert request is not None
    # That replica is gone; QuickBooks ran the message; the other replica gets the answer.
    answer = qb.process(request)
    assert await gateway.call("receiveResponseXML", ticket, answer, "", "") == 100
    assert await gateway.call("closeConnection", ticket) == (
        "Posted 2, failed 0, waiting 0, retrying 0"
    )
    id_map = await IdMap.open(gateway.js)
    assert [
        (await id_map.get("acme", "customer", st_id)) is not None for st_id in (1001, 1002)
    ] == [
        True,
        True,
    ]
    assert len(qb.customers) == 2
    assert await gateway.open_work("acme") == (0, 0)
