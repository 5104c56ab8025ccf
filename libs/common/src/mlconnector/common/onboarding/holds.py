"""The operator's choice for a customer or vendor QuickBooks refused with 3100 (store.Hold):
"link" it to the entry QuickBooks has under that name, or add it under its name with the
ServiceTitan id suffix. The gateway carries the choice out at its next session."""

from __future__ import annotations

from nats.js import JetStreamContext

from mlconnector.common.onboarding.store import Hold, HoldChoice, Holds, ReviewStore


class HoldError(ValueError):
    """A choice that cannot be made; the message says why and what to do."""


def _pick(holds: Holds, key: str, choice: HoldChoice, connection: str) -> Hold:
    hold = holds.items.get(key)
    if hold is None:
        waiting = ", ".join(sorted(holds.items)) or "none"
        raise HoldError(f"{key!r} is not waiting for a choice in {connection} (waiting: {waiting})")
    if hold.state == "looking":
        raise HoldError(
            f"{key}: ml-connector is still asking QuickBooks what holds {hold.name!r}; "
            "choose after the next Web Connector session"
        )
    if choice == "link" and not hold.can_link:
        raise HoldError(
            f"{key}: {hold.name!r} in QuickBooks is not a {hold.entity}, so it cannot be "
            f"linked; choose 'suffix' to add it as {hold.suffixed_name!r}"
        )
    return hold


async def choose_hold(js: JetStreamContext, connection: str, key: str, choice: str) -> Hold:
    """Record the choice for hold `key` ("customer:1001"); raises HoldError."""
    if choice not in ("link", "suffix"):
        raise HoldError(f"choose 'link' or 'suffix' for {key}, not {choice!r}")
    picked: HoldChoice = "link" if choice == "link" else "suffix"
    store = await ReviewStore.open(js)
    _pick(await store.holds(connection), key, picked, connection)

    def change(holds: Holds) -> Holds:
        hold = _pick(holds, key, picked, connection)
        holds.items[key] = hold.model_copy(update={"choice": picked, "state": "chosen"})
        return holds

    updated = await store.change_holds(connection, change)
    return updated.items[key]
