"""Why a ServiceTitan record could not be turned into QuickBooks commands."""

from __future__ import annotations


class MappingError(ValueError):
    """A record the mapper refuses to translate; `hint` tells the operator what to do.

    Refusing is deliberate: an invoice whose amounts do not add up would post a wrong balance
    in QuickBooks, which is worse for the accountant than an invoice that waits to be fixed.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UnsupportedEntityError(MappingError):
    """An entity this mapper version does not translate yet (the event stays replayable)."""
