"""JSON columns that accept text already serialized (a stream message as published), so that
the write path does not decode and encode it again."""

from __future__ import annotations

import json
from typing import Any


class JsonText(str):
    """A JSON document as text, stored as it is in a JSON column."""

    __slots__ = ()


def serialize(value: Any) -> str:
    """The engine's `json_serializer`: JsonText as it is, anything else through json.dumps."""
    if isinstance(value, JsonText):
        return str.__str__(value)
    return json.dumps(value)
