"""Building a connection's onboarding review from both sides.

ServiceTitan's side: customers and vendors as st-ingest published them (ST_EVENTS, the newest
version of each, with the version fields the id map keeps), named as the mapper would name
them in QuickBooks (mapper.parties / mapper.naming); the pricebook's SKUs, GL accounts,
business units and tax zones read from ServiceTitan (st-ingest's catalog reader). QuickBooks'
side: the gateway's last complete read of the company (KV `qb-company`).
"""

from __future__ import annotations

import logging

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import StEvent, version_order
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Party
from mlconnector.common.onboarding.company import CompanySnapshot
from mlconnector.common.onboarding.confirm import mapping_with_matches
from mlconnector.common.onboarding.mapping_check import check_mapping
from mlconnector.common.onboarding.matching import Section, StRecord, match_section
from mlconnector.common.onboarding.plan import Plan, names_in_use, section_entries
from mlconnector.common.streams import ST_EVENTS
from mlconnector.mapper.naming import qb_name
from mlconnector.mapper.parties import party_name

log = logging.getLogger(__name__)

FETCH = 500


async def latest_events(js: JetStreamContext, tenant: str, entity: str) -> list[StEvent]:
    """The newest version of every `entity` record of `tenant` in ST_EVENTS (by
    `version_order`), in ServiceTitan id order."""
    subject = f"st.events.{tenant}.{entity}"
    info = await js.stream_info(ST_EVENTS.name, subjects_filter=subject)
    if not (info.state.subjects or {}).get(subject):
        return []
    end_seq = int(info.state.last_seq)
    sub = await js.pull_subscribe(
        subject,
        stream=ST_EVENTS.name,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=subject,
            inactive_threshold=30.0,
        ),
    )
    newest: dict[int, StEvent] = {}
    try:
        done = False
        while not done:
            try:
                msgs = await sub.fetch(FETCH, timeout=1.0)
            except nats.errors.TimeoutError:
                break
            for msg in msgs:
                seq = int(msg.metadata.sequence.stream)
                try:
                    event = StEvent.model_validate_json(msg.data)
                except ValidationError:
                    log.warning("ST_EVENTS message %s is not an event; skipped", seq)
                    continue
                held = newest.get(event.st_id)
                if held is None or version_order(
                    event.version_at, event.generation, event.event_id
                ) > version_order(held.version_at, held.generation, held.event_id):
                    newest[event.st_id] = event
                if seq >= end_seq or int(msg.metadata.num_pending or 0) == 0:
                    done = True
    finally:
        await sub.unsubscribe()
    return [newest[st_id] for st_id in sorted(newest)]


def party_record(event: StEvent, mapping: MappingSettings) -> StRecord | None:
    party = event.record
    if not isinstance(party, Party):
        return None
    address = party.address
    return StRecord(
        section=party.kind,
        st_id=party.st_id,
        name=party.name,
        qb_name=party_name(party, mapping),
        suffixed_name=qb_name(party.name, party.st_id, always_suffix=True),
        active=party.active,
        phone=party.phone,
        email=party.email,
        street=address.street if address else None,
        city=address.city if address else None,
        zip=address.zip if address else None,
        event_id=event.event_id,
        version_at=event.version_at,
        generation=event.generation,
    )


def _with_mapping(record: StRecord, mapping: MappingSettings) -> StRecord:
    """What the mapping settings already say about a record (the operator's own map)."""
    mapped: str | None = None
    if record.section == "item" and mapping.item_strategy == "sku":
        mapped = mapping.item_map.get(record.name)
    elif record.section == "account":
        mapped = mapping.gl_account_map.get(record.name) or (
            mapping.gl_account_map.get(record.number) if record.number else None
        )
    elif record.section == "business_unit":
        mapped = mapping.class_map.get(record.name)
    return record.model_copy(update={"mapped_to": mapped}) if mapped else record


def build_plan(
    connection: Connection,
    snapshot: CompanySnapshot,
    parties: dict[Section, list[StRecord]],
    catalog: dict[Section, list[StRecord]] | None,
    notes: list[str],
) -> Plan:
    """Match every section; `catalog` None: ServiceTitan's setup lists could not be read
    (the reason is in `notes`)."""
    mapping = connection.mapping
    in_use = names_in_use(snapshot)
    plan = Plan(connection=connection.name, read_id=snapshot.manifest.read_id, notes=list(notes))
    for section in ("customer", "vendor"):
        plan.matches[section] = match_section(
            section,
            parties.get(section, []),
            section_entries(section, snapshot),
            names_in_use=in_use,
        )
    sections: tuple[Section, ...] = ("item", "account", "business_unit", "tax_zone")
    for section in sections:
        if catalog is None:
            continue
        if section == "item" and mapping.item_strategy != "sku":
            plan.notes.append(
                "Items are made per GL account (item_strategy gl_account): SKUs are not matched."
            )
            continue
        records = [_with_mapping(record, mapping) for record in catalog.get(section, [])]
        plan.matches[section] = match_section(section, records, section_entries(section, snapshot))
    refresh_problems(plan, connection, snapshot)
    return plan


def refresh_problems(plan: Plan, connection: Connection, snapshot: CompanySnapshot) -> None:
    """The mapping check as confirming would run it (with the plan's matches in the map)."""
    mapping, _ = mapping_with_matches(plan, connection.mapping)
    plan.mapping_problems = check_mapping(mapping, snapshot)
