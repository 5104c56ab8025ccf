"""A ServiceTitan location as a QuickBooks job (Customer:Job), with `location_as_job` on.

The job is a CustomerAddRq whose ParentRef is the customer (a late reference), sent before the
invoice; the invoice names it by FullName "<customer name>:<job name>". The job's name is the
location's name (else its street), kept unique by the location id as for customers.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Invoice
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_address, add_ref, qb_bool
from mlconnector.mapper.naming import qb_name


@dataclass(frozen=True)
class JobPlan:
    name: str
    full_name: str
    location_st_id: int


def job_plan(invoice: Invoice, mapping: MappingSettings) -> JobPlan | None:
    if not mapping.location_as_job or invoice.location_st_id is None:
        return None
    always = mapping.name_id_suffix == "always"
    parent = qb_name(invoice.customer_name, invoice.customer_st_id, always_suffix=always)
    street = invoice.ship_to.street if invoice.ship_to is not None else ""
    label = invoice.location_name or street or f"Location {invoice.location_st_id}"
    name = qb_name(label, invoice.location_st_id, always_suffix=always)
    return JobPlan(name=name, full_name=f"{parent}:{name}", location_st_id=invoice.location_st_id)


def job_add(invoice: Invoice, job: JobPlan, customer: LateRef) -> etree._Element:
    request = etree.Element("CustomerAddRq")
    add = sub(request, "CustomerAdd")
    sub(add, "Name", job.name)
    sub(add, "IsActive", qb_bool(True))
    add_ref(add, "ParentRef", list_id=customer.placeholder)
    add_address(add, "BillAddress", invoice.bill_to, addressee=invoice.customer_name)
    add_address(add, "ShipAddress", invoice.ship_to, addressee=invoice.customer_name)
    return request


def job_query(job: JobPlan) -> etree._Element:
    request = etree.Element("CustomerQueryRq")
    sub(request, "FullName", job.full_name)
    return request


def job_command(
    event: StEvent, connection: Connection, invoice: Invoice, job: JobPlan, customer: LateRef
) -> Command:
    return make_command(
        event,
        connection,
        job_add(invoice, job, customer),
        lookup=job_query(job),
        refs=(customer,),
        summary=f"Job {job.full_name} for ServiceTitan location {job.location_st_id} "
        f"(needed by invoice {invoice.number})",
        key=f"job:{job.location_st_id}",
    )
