"""The onboarding pages: the review of how ServiceTitan's lists match a QuickBooks company,
with the operator's choices, its confirmation, and the names QuickBooks refused later (3100).

The same review `mlconnector onboard` prints (mlconnector.common.onboarding): matched (how),
to create, not in QuickBooks, ambiguous (with the candidates to choose from). Routes:

- GET /onboarding: the connections and where their onboarding is;
- GET /onboarding/{connection}: one review; POST .../choices (form fields `choice:<key>`),
  POST .../confirm (`force`), POST .../holds/{key} (`choice` link or suffix): each redirects
  back to the page with what happened (or why not) in one sentence;
- GET /api/onboarding/{connection}: the review as JSON.

Forms are read by hand (urlencoded): FastAPI's Form() needs python-multipart, which audit does
not depend on. Every value shown goes through html.escape; the pages load no external asset.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.onboarding.company import CompanySnapshot, CompanyStore
from mlconnector.common.onboarding.confirm import ConfirmError, confirm, describe
from mlconnector.common.onboarding.holds import HoldError, choose_hold
from mlconnector.common.onboarding.matching import SECTIONS, Match
from mlconnector.common.onboarding.plan import SECTION_TITLES, ChoiceError, Plan, choose
from mlconnector.common.onboarding.store import Hold, ReviewStore

SHOWN = 100  # rows per status unless ?all=1
STATUS_TITLES = {
    "ambiguous": "ambiguous: your choice",
    "missing": "not in QuickBooks",
    "create": "to create",
    "matched": "matched",
}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:80rem}
table{border-collapse:collapse;width:100%;margin-bottom:1rem}td,th{border-bottom:1px solid #ddd;
padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
.msg{padding:.5rem;border-radius:.3rem;background:#e8f5e9}.err{background:#ffebee}
.ambiguous{background:#fff8e1}.missing{background:#fbe9e7}.muted{color:#666}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _form(body: bytes) -> dict[str, str]:
    """An urlencoded form; a field sent twice (a choice's list and its text box) keeps its
    last non-empty value."""
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {
        key: next((v for v in reversed(values) if v.strip()), "") for key, values in parsed.items()
    }


def _back(connection: str, *, message: str = "", error: str = "") -> RedirectResponse:
    query = urlencode({k: v for k, v in (("message", message), ("error", error)) if v})
    target = f"/onboarding/{quote(connection)}" + (f"?{query}" if query else "")
    return RedirectResponse(target, status_code=303)


def onboarding_router(js: JetStreamContext | None) -> APIRouter:
    """The routes above; without NATS (`js` None) they answer 503."""
    router = APIRouter()

    def need_js() -> JetStreamContext:
        if js is None:
            raise HTTPException(503, "onboarding needs NATS, which this audit instance lacks")
        return js

    async def load(
        name: str,
    ) -> tuple[Connection, Plan | None, CompanySnapshot | None, list[Hold], Any]:
        jets = need_js()
        connection = await (await ConnectionStore.open(jets)).get(name)
        if connection is None:
            raise HTTPException(404, f"no connection named {name!r}")
        review = await ReviewStore.open(jets)
        company = await CompanyStore.open(jets)
        plan = await review.load_plan(name)
        snapshot = await company.snapshot(name)
        holds = list((await review.holds(name)).items.values())
        return connection, plan, snapshot, holds, await company.manifest(name)

    @router.get("/onboarding", response_class=HTMLResponse)
    async def connections_page() -> HTMLResponse:
        jets = need_js()
        review = await ReviewStore.open(jets)
        rows = []
        for connection in await (await ConnectionStore.open(jets)).all():
            plan = await review.plan_head(connection.name)
            holds = len((await review.holds(connection.name)).items)
            if plan is not None:
                state = f"review {plan.state}"
            elif connection.onboarded:
                state = "posting (made before onboarding)"
            else:
                state = "reading the QuickBooks company"
            rows.append(
                f"<tr><td><a href='/onboarding/{quote(connection.name)}'>{_e(connection.name)}"
                f"</a></td><td>{_e(connection.tenant)}</td><td>{_e(state)}</td>"
                f"<td>{holds}</td></tr>"
            )
        body = (
            "<h1>Onboarding</h1><table><tr><th>connection</th><th>tenant</th><th>onboarding"
            "</th><th>names waiting for a choice</th></tr>" + "".join(rows) + "</table>"
        )
        return _page("ml-connector onboarding", body)

    @router.get("/onboarding/{name}", response_class=HTMLResponse)
    async def review_page(
        name: str, message: str = "", error: str = "", all: int = 0
    ) -> HTMLResponse:
        connection, plan, snapshot, holds, manifest = await load(name)
        parts = [f"<h1>Onboarding {_e(name)}</h1>", "<p><a href='/onboarding'>all</a></p>"]
        if message:
            parts.append(f"<p class='msg' id='message'>{_e(message)}</p>")
        if error:
            parts.append(f"<p class='msg err' id='error'>{_e(error)}</p>")
        parts.append(_company(connection, plan, snapshot, manifest))
        if plan is not None:
            parts.append(_review(name, plan, show_all=bool(all)))
        parts.append(_holds(name, holds))
        return _page(f"Onboarding {name}", "".join(parts))

    @router.post("/onboarding/{name}/choices")
    async def post_choices(name: str, request: Request) -> RedirectResponse:
        jets = need_js()
        form = _form(await request.body())
        wanted = [
            (key.removeprefix("choice:"), value)
            for key, value in form.items()
            if key.startswith("choice:") and value.strip()
        ]
        review = await ReviewStore.open(jets)
        plan = await review.load_plan(name)
        snapshot = await (await CompanyStore.open(jets)).snapshot(name)
        if plan is None or snapshot is None:
            return _back(name, error="There is no review to change yet.")
        try:
            for key, value in wanted:
                choose(plan, key, value, snapshot)
        except ChoiceError as exc:
            return _back(name, error=f"{exc}; nothing was changed.")
        if not wanted:
            return _back(name, error="No choice was made: pick one in a row first.")
        await review.save_plan(plan)
        return _back(name, message=f"{len(wanted)} choice(s) recorded.")

    @router.post("/onboarding/{name}/confirm")
    async def post_confirm(name: str, request: Request) -> RedirectResponse:
        form = _form(await request.body())
        try:
            result = await confirm(need_js(), name, force=form.get("force") == "on")
        except ConfirmError as exc:
            return _back(name, error=f"Not confirmed: {exc}.")
        return _back(name, message=describe(name, result))

    @router.post("/onboarding/{name}/holds/{key}")
    async def post_hold(name: str, key: str, request: Request) -> RedirectResponse:
        form = _form(await request.body())
        try:
            hold = await choose_hold(need_js(), name, key, form.get("choice", ""))
        except HoldError as exc:
            return _back(name, error=f"{exc}.")
        what = (
            f"linked to QuickBooks {hold.entity} {hold.existing.name!r}"
            if hold.choice == "link" and hold.existing
            else f"added as {hold.suffixed_name!r}"
        )
        return _back(name, message=f"{key}: {what} at the next Web Connector session.")

    @router.get("/api/onboarding/{name}")
    async def review_json(name: str) -> dict[str, Any]:
        connection, plan, snapshot, holds, _ = await load(name)
        return {
            "connection": name,
            "onboarded": connection.onboarded,
            "state": plan.state if plan else None,
            "company": snapshot.manifest.counts if snapshot else {},
            "counts": plan.counts() if plan else {},
            "mapping_problems": plan.mapping_problems if plan else [],
            "notes": plan.notes if plan else [],
            "sections": {
                section: [m.model_dump(mode="json", exclude={"record"}) for m in matches]
                for section in SECTIONS
                if plan is not None and (matches := plan.section(section))
            },
            "holds": [hold.model_dump(mode="json") for hold in holds],
        }

    return router


def _company(
    connection: Connection, plan: Plan | None, snapshot: CompanySnapshot | None, manifest: Any
) -> str:
    if snapshot is None:
        if connection.onboarded:
            return (
                "<p>This connection was made before onboarding existed: it posts without a "
                "review.</p>"
            )
        state = manifest.state if manifest is not None else "requested"
        return (
            f"<p id='state'>The QuickBooks company has not been read yet (read {_e(state)}): "
            "the next Web Connector session reads it, then the review appears here.</p>"
        )
    counts = ", ".join(f"{n} {_e(k)}" for k, n in snapshot.manifest.counts.items())
    read_at = snapshot.manifest.finished_at
    state = (
        "<strong>not confirmed</strong>: nothing is posted before you confirm it"
        if plan is not None and plan.state == "draft"
        else "<strong>confirmed</strong>: the connection posts"
        if plan is not None
        else "no review yet: run <code>mlconnector onboard</code>"
    )
    return (
        f"<p>QuickBooks company read {_e(f'{read_at:%Y-%m-%d %H:%M} UTC' if read_at else '')} "
        f"in {snapshot.manifest.messages} Web Connector message(s): {counts}.</p>"
        f"<p id='state'>Review: {state}.</p>"
    )


def _review(name: str, plan: Plan, *, show_all: bool) -> str:
    draft = plan.state == "draft"
    parts = [f"<p class='muted'>note: {_e(note)}</p>" for note in plan.notes]
    counts = plan.counts()
    parts.append("<table id='counts'><tr><th>list</th>")
    parts += [f"<th>{_e(t)}</th>" for t in STATUS_TITLES.values()]
    parts.append("</tr>")
    for section in SECTIONS:
        if section not in counts:
            continue
        cells = "".join(f"<td>{counts[section].get(status, 0)}</td>" for status in STATUS_TITLES)
        parts.append(f"<tr><td>{_e(SECTION_TITLES[section])}</td>{cells}</tr>")
    parts.append("</table>")
    if draft:
        parts.append(f"<form method='post' action='/onboarding/{quote(name)}/choices'>")
    for section in SECTIONS:
        matches = plan.section(section)
        if not matches:
            continue
        parts.append(f"<h2>{_e(SECTION_TITLES[section])}</h2><table>")
        parts.append(
            "<tr><th>ServiceTitan</th><th>status</th><th>QuickBooks</th><th>why</th>"
            + ("<th>your choice</th>" if draft else "")
            + "</tr>"
        )
        for status in STATUS_TITLES:
            group = [m for m in matches if m.status == status]
            shown = group if show_all or status == "ambiguous" else group[:SHOWN]
            parts += [_row(m, draft) for m in shown]
            if len(group) > len(shown):
                parts.append(
                    f"<tr><td colspan='5' class='muted'>... and {len(group) - len(shown)} more "
                    f"{_e(STATUS_TITLES[status])} (<a href='?all=1'>show all</a>)</td></tr>"
                )
        parts.append("</table>")
    if draft:
        parts.append("<button type='submit' id='save'>Save choices</button></form>")
    if plan.mapping_problems:
        parts.append("<h2>Mapping check</h2><ul id='problems'>")
        parts += [f"<li>{_e(problem)}</li>" for problem in plan.mapping_problems]
        parts.append("</ul>")
    else:
        parts.append("<p id='problems'>Mapping check: every name the mapping uses is there.</p>")
    if draft:
        parts.append(
            f"<form method='post' action='/onboarding/{quote(name)}/confirm'>"
            "<label><input type='checkbox' name='force'> confirm although the mapping names "
            "entries QuickBooks lacks</label> "
            "<button type='submit' id='confirm'>Confirm the review: start posting</button></form>"
        )
    return "".join(parts)


def _row(match: Match, draft: bool) -> str:
    qb = ""
    if match.qb is not None:
        qb = f"{_e(match.qb.name)} <span class='muted'>{match.qb.confidence:.0%}</span>"
    elif match.create_as:
        qb = f"added as {_e(match.create_as)}"
    choice = ""
    if draft:
        options = ["<option value=''>keep</option>"]
        options += [
            f"<option value='{_e(c.list_id)}'>{_e(c.name)} ({_e(c.reason)})</option>"
            for c in match.candidates
        ]
        if match.section in ("customer", "vendor"):
            options.append("<option value='create'>create it in QuickBooks</option>")
        else:
            options.append("<option value='none'>leave unmatched</option>")
        choice = (
            f"<td><select name='choice:{_e(match.key)}'>{''.join(options)}</select> "
            f"<input name='choice:{_e(match.key)}' placeholder='or a ListID / name' "
            "size='18'></td>"
        )
    by = " (your choice)" if match.decided_by == "operator" else ""
    return (
        f"<tr class='{_e(match.status)}' data-key='{_e(match.key)}'><td>{_e(match.key)} "
        f"{_e(match.st_name)}</td><td>{_e(STATUS_TITLES[match.status])}{by}</td><td>{qb}</td>"
        f"<td>{_e(match.reason)}</td>{choice}</tr>"
    )


def _holds(name: str, holds: list[Hold]) -> str:
    if not holds:
        return ""
    parts = [
        "<h2>Names QuickBooks already uses</h2><p>QuickBooks refused to add these (3100); "
        "they and the records that need them wait for your choice.</p><table id='holds'>"
        "<tr><th>record</th><th>name</th><th>in QuickBooks</th><th>waiting</th>"
        "<th>choice</th></tr>"
    ]
    for hold in holds:
        existing = hold.existing
        where = (
            f"{_e(existing.kind.lower())} {_e(existing.name)} ({_e(existing.list_id)})"
            + (f", {_e(' / '.join(existing.address))}" if existing.address else "")
            + (f", {_e(existing.phone)}" if existing.phone else "")
            if existing
            else "another kind of name (an employee, or a name ml-connector cannot read)"
            if hold.state != "looking"
            else "looking it up at the next session"
        )
        action = f"/onboarding/{quote(name)}/holds/{quote(hold.key)}"
        buttons = ""
        if hold.state == "offered":
            if hold.can_link:
                buttons += (
                    f"<form method='post' action='{action}' style='display:inline'>"
                    "<input type='hidden' name='choice' value='link'>"
                    f"<button type='submit'>Link to the existing {_e(hold.entity)}</button></form> "
                )
            if hold.suffixed_name:
                buttons += (
                    f"<form method='post' action='{action}' style='display:inline'>"
                    "<input type='hidden' name='choice' value='suffix'>"
                    f"<button type='submit'>Create as {_e(hold.suffixed_name)}</button></form>"
                )
        elif hold.state == "chosen":
            buttons = f"chosen: {_e(hold.choice)} (carried out at the next session)"
        parts.append(
            f"<tr data-key='{_e(hold.key)}'><td>{_e(hold.key)}</td><td>{_e(hold.name)}</td>"
            f"<td>{where}</td><td>{hold.dependants} record(s)</td><td>{buttons}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)
