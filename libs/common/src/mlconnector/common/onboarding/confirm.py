"""Confirming a review: the matches become what ml-connector knows, and the connection posts.

In this order, so that confirming again after a crash finishes the job and nothing posts
before everything it needs is written:

1. the id map: each matched customer and vendor with its ListID, EditSequence and the version
   of the ServiceTitan record that was matched (`version_at`, `generation`, `event_id`: a
   later version is newer, that one and older ones are never applied over it); each matched
   item, GL account, business unit and tax zone with its ListID (entities "item", "account",
   "business_unit", "tax_zone");
2. the names the gateway sends: a matched customer or vendor keeps its QuickBooks name (a Mod
   never renames it to ServiceTitan's), one to create whose name QuickBooks uses is added with
   its ServiceTitan id suffix;
3. the mapping settings: a SKU, GL account or business unit matched to a QuickBooks entry of
   another name goes into `item_map`, `gl_account_map` or `class_map`;
4. the plan's state ("confirmed"), then `Connection.onboarded` True: the next session posts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import JetStreamContext

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import utcnow
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.onboarding.company import CompanySnapshot, CompanyStore
from mlconnector.common.onboarding.mapping_check import check_mapping
from mlconnector.common.onboarding.matching import Match
from mlconnector.common.onboarding.plan import Plan
from mlconnector.common.onboarding.store import NameOverride, ReviewStore

ID_MAP_CHUNK = 1000
_ADD = {"customer": "CustomerAddRq", "vendor": "VendorAddRq"}


class ConfirmError(ValueError):
    """The review cannot be confirmed (yet); the message says why and what to do."""


@dataclass
class ConfirmResult:
    """What confirming wrote: id map entries per section, name overrides, mapping changes
    (each "item_map['WH-50G'] = 'Parts:WH-50G'"), and mapping problems accepted with force."""

    linked: dict[str, int] = field(default_factory=dict)
    names: int = 0
    mapping_changes: list[str] = field(default_factory=list)
    mapping_problems: list[str] = field(default_factory=list)


def mapping_with_matches(plan: Plan, mapping: MappingSettings) -> tuple[MappingSettings, list[str]]:
    """The mapping settings with the plan's matches whose QuickBooks name differs from
    ServiceTitan's, and a line per change."""
    items, accounts, classes = (
        dict(mapping.item_map),
        dict(mapping.gl_account_map),
        dict(mapping.class_map),
    )
    changes: list[str] = []
    targets = {
        "item": ("item_map", items),
        "account": ("gl_account_map", accounts),
        "business_unit": ("class_map", classes),
    }
    for section, (field_name, table) in targets.items():
        if section == "item" and mapping.item_strategy != "sku":
            continue  # item_map is keyed by GL account then; items are made per account
        for match in plan.section(section):  # type: ignore[arg-type]
            if match.status != "matched" or match.qb is None:
                continue
            if match.qb.name == match.st_name or table.get(match.st_name) == match.qb.name:
                continue
            table[match.st_name] = match.qb.name
            changes.append(f"{field_name}[{match.st_name!r}] = {match.qb.name!r}")
    updated = mapping.model_copy(
        update={"item_map": items, "gl_account_map": accounts, "class_map": classes}
    )
    return MappingSettings.model_validate(updated.model_dump()), changes


def _id_mapping(match: Match, snapshot: CompanySnapshot) -> IdMapping:
    assert match.qb is not None
    record = match.record
    if match.section not in _ADD:
        return IdMapping(qb_id=match.qb.list_id)
    entry = next(
        (e for e in snapshot.entries(match.section) if e.list_id == match.qb.list_id),  # type: ignore[arg-type]
        None,
    )
    return IdMapping(
        qb_id=match.qb.list_id,
        edit_sequence=entry.edit_sequence if entry else None,
        version_at=record.version_at,
        generation=record.generation,
        event_id=record.event_id or None,
        request_type=_ADD[match.section],
    )


def _name_overrides(plan: Plan) -> list[tuple[str, int, NameOverride]]:
    out: list[tuple[str, int, NameOverride]] = []
    for section in _ADD:
        for match in plan.section(section):  # type: ignore[arg-type]
            ours = match.record.qb_name or match.record.name
            if match.status == "matched" and match.qb is not None and match.qb.name != ours:
                why = f"matched at onboarding to QuickBooks {section} {match.qb.name!r}"
                out.append((section, match.st_id, NameOverride(name=match.qb.name, why=why)))
            elif match.status == "create" and match.create_as and match.create_as != ours:
                why = f"added with its ServiceTitan id: QuickBooks already uses {ours!r}"
                out.append((section, match.st_id, NameOverride(name=match.create_as, why=why)))
    return out


async def confirm(js: JetStreamContext, name: str, *, force: bool = False) -> ConfirmResult:
    """Confirm connection `name`'s review (see the module docstring). Raises ConfirmError when
    there is no review, the company was read again since it was made, a record is still
    ambiguous, or (without `force`) the mapping names entries QuickBooks does not have."""
    connections = await ConnectionStore.open(js)
    connection = await connections.get(name)
    if connection is None:
        raise ConfirmError(
            f"there is no connection named {name!r}; see `mlconnector connection list`"
        )
    review = await ReviewStore.open(js)
    plan = await review.load_plan(name)
    if plan is None:
        raise ConfirmError(
            f"{name} has no review yet; `mlconnector onboard {name}` makes one once the Web "
            "Connector has read the QuickBooks company"
        )
    if plan.state == "confirmed" and connection.onboarded:
        raise ConfirmError(f"the review of {name} is confirmed already; {name} is posting")
    snapshot = await (await CompanyStore.open(js)).snapshot(name)
    if snapshot is None or snapshot.manifest.read_id != plan.read_id:
        raise ConfirmError(
            f"the QuickBooks company of {name} was read again after this review was made; "
            f"`mlconnector onboard {name} --refresh` makes it anew (your choices are kept)"
        )
    ambiguous = plan.ambiguous()
    if ambiguous:
        keys = ", ".join(m.key for m in ambiguous[:5])
        more = f" and {len(ambiguous) - 5} more" if len(ambiguous) > 5 else ""
        raise ConfirmError(
            f"{len(ambiguous)} record(s) are still ambiguous ({keys}{more}); choose each one "
            f"(`mlconnector onboard {name} --choose KEY=LISTID|create` or a CSV) first"
        )
    mapping, changes = mapping_with_matches(plan, connection.mapping)
    problems = check_mapping(mapping, snapshot)
    if problems and not force:
        raise ConfirmError(
            f"{len(problems)} name(s) of the mapping are not in QuickBooks (first: "
            f"{problems[0]}); fix them, or confirm with --force if those records may fail"
        )
    result = ConfirmResult(mapping_changes=changes, mapping_problems=problems)
    id_map = await IdMap.open(js)
    writes = [
        (match.section, match.st_id, "", _id_mapping(match, snapshot))
        for match in plan.all()
        if match.status == "matched" and match.qb is not None
    ]
    for start in range(0, len(writes), ID_MAP_CHUNK):
        await id_map.put_many(name, writes[start : start + ID_MAP_CHUNK])
    for section, *_ in writes:
        result.linked[section] = result.linked.get(section, 0) + 1
    names = _name_overrides(plan)
    await review.put_names(name, names)
    result.names = len(names)
    plan.state, plan.confirmed_at, plan.mapping_problems = "confirmed", utcnow(), problems
    await review.save_head(plan)
    await connections.put(connection.model_copy(update={"mapping": mapping, "onboarded": True}))
    return result


def describe(name: str, result: ConfirmResult) -> str:
    """One paragraph for people: what confirming did."""
    linked = ", ".join(
        f"{count} {section.replace('_', ' ')}{'' if count == 1 else 's'}"
        for section, count in sorted(result.linked.items())
    )
    text = (
        f"Confirmed the review of {name}: linked {linked or 'nothing'}; "
        f"{result.names} name(s) kept as QuickBooks has them or given the ServiceTitan id."
    )
    if result.mapping_changes:
        text += " Mapping: " + "; ".join(result.mapping_changes) + "."
    if result.mapping_problems:
        text += f" Accepted {len(result.mapping_problems)} mapping problem(s) with --force."
    return text + f" {name} posts from its next Web Connector session."
